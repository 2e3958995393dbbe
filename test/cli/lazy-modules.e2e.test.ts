import type { ChildProcess } from 'node:child_process';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, freePort, removeTempDirs } from './helpers.js';
import { modulesOfStartedServer } from './server-modules.js';

const children: ChildProcess[] = [];

const loadedModules = (extraArgs: readonly string[]) => modulesOfStartedServer(extraArgs, children);

const loads = (modules: readonly string[], name: string) =>
  modules.some((file) => file.includes(`node_modules/${name}/`));

describe('modules a started server has not loaded (issue 9: memory at rest)', () => {
  beforeAll(() => ensureBuilt(), 240_000);
  afterEach(() => {
    for (const child of children.splice(0)) child.kill('SIGKILL');
  });
  afterAll(() => removeTempDirs());

  it('loads neither the metrics library with metrics off nor the mail library before a mail', async () => {
    const modules = await loadedModules([]);
    expect(loads(modules, 'fastify')).toBe(true);
    expect(loads(modules, 'prom-client')).toBe(false);
    expect(loads(modules, 'nodemailer')).toBe(false);
  });

  it('loads the metrics library once metrics are on', async () => {
    const modules = await loadedModules(['--metrics-listen', `127.0.0.1:${await freePort()}`]);
    expect(loads(modules, 'prom-client')).toBe(true);
  });
});
