import type { ChildProcess } from 'node:child_process';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, removeTempDirs } from './helpers.js';
import { bundledModules, modulesOfStartedServer } from './server-modules.js';

const children: ChildProcess[] = [];

/** What only other commands need: loaded by a server, it would sit in its memory for nothing. */
const HEAVY = [
  'build/src/backup/create-backup.js',
  'build/src/backup/restore-backup.js',
  'build/src/projections/rebuild.js',
  'node_modules/tar/',
];
const isAction = (module: string) => /^build\/src\/cli\/[\w-]+-action\.js$/.test(module);

describe("the other commands' code is not loaded by a server (issue 9: memory at rest)", () => {
  beforeAll(() => ensureBuilt(), 240_000);
  afterEach(() => {
    for (const child of children.splice(0)) child.kill('SIGKILL');
  });
  afterAll(() => removeTempDirs());

  it('loads the command definitions but no action module of another command', async () => {
    // The bundle holds them all: were one missing, its absence below would prove nothing.
    const bundled = bundledModules();
    expect(bundled.filter(isAction).length).toBeGreaterThanOrEqual(10);
    for (const heavy of HEAVY) expect(bundled.some((m) => m.includes(heavy))).toBe(true);

    const modules = await modulesOfStartedServer([], children);
    // The probe sees the server's own modules: without them the test would prove nothing.
    expect(modules).toContain('build/src/cli/serve.js');
    expect(modules).toContain('build/src/cli/backup.js');
    expect(modules.filter(isAction)).toEqual([]);
    for (const heavy of HEAVY) expect(modules.filter((m) => m.includes(heavy))).toEqual([]);
  }, 60_000);
});
