import type { ChildProcess } from 'node:child_process';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, freePort, removeTempDirs } from './helpers.js';
import { modulesOfStartedServer } from './server-modules.js';

/**
 * Loaded with the server (NODE_OPTIONS=--import): on SIGUSR2 it writes the CommonJS modules
 * the process has loaded, which is how fastify, prom-client and nodemailer are loaded.
 */
const PROBE = `import { createRequire } from 'node:module';
import { writeFileSync } from 'node:fs';
const require = createRequire(import.meta.url);
process.on('SIGUSR2', () => writeFileSync(process.env.LOADED_OUT, JSON.stringify(Object.keys(require.cache))));
`;

const children: ChildProcess[] = [];

const loadedModules = (extraArgs: readonly string[]) =>
  modulesOfStartedServer(PROBE, extraArgs, children);

const loads = (modules: readonly string[], name: string) =>
  modules.some((file) => file.includes(`/node_modules/${name}/`));

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
