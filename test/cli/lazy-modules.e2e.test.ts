import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BIN, ensureBuilt, freePort, makeDataDir, makeTempDir, removeTempDirs } from './helpers.js';

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

async function loadedModules(extraArgs: readonly string[]): Promise<string[]> {
  const dir = makeTempDir('verstak-lazy-');
  const probe = join(dir, 'probe.mjs');
  writeFileSync(probe, PROBE);
  const out = join(dir, 'loaded.json');
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [BIN, 'serve', '--data', makeDataDir(), '--port', String(port), ...extraArgs],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: {
        ...process.env,
        NODE_OPTIONS: `--import ${pathToFileURL(probe).href}`,
        LOADED_OUT: out,
      },
    },
  );
  children.push(child);
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`server exited early:\n${stderr}`);
    const ok = await fetch(`http://127.0.0.1:${port}/livez`).then(
      (res) => res.ok,
      () => false,
    );
    if (ok) break;
    if (i > 200) throw new Error(`server did not start:\n${stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGUSR2');
  for (let i = 0; !existsSync(out); i++) {
    if (i > 100) throw new Error('the server did not list its modules');
    await new Promise((r) => setTimeout(r, 50));
  }
  await new Promise((r) => setTimeout(r, 50)); // the write may still be under way
  return JSON.parse(readFileSync(out, 'utf8')) as string[];
}

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
