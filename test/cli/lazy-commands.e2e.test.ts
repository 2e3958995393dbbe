import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BIN, ensureBuilt, freePort, makeDataDir, makeTempDir, removeTempDirs } from './helpers.js';

/**
 * ES modules are not in require.cache: a resolve hook (on node's loader thread) posts every
 * module URL it resolves back to the process, which writes them out on SIGUSR2.
 */
const HOOKS = `let port;
export function initialize(data) { port = data.port; }
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  port.postMessage(result.url);
  return result;
}
`;
const PROBE = (hooks: string) => `import { register } from 'node:module';
import { MessageChannel } from 'node:worker_threads';
import { writeFileSync } from 'node:fs';
const urls = new Set();
const { port1, port2 } = new MessageChannel();
port1.on('message', (url) => urls.add(url));
port1.unref();
register(${JSON.stringify(hooks)}, { data: { port: port2 }, transferList: [port2] });
process.on('SIGUSR2', () => writeFileSync(process.env.LOADED_OUT, JSON.stringify([...urls])));
`;

const children: ChildProcess[] = [];

async function modulesOfStartedServer(): Promise<string[]> {
  const dir = makeTempDir('verstak-lazy-cmd-');
  const hooks = join(dir, 'hooks.mjs');
  writeFileSync(hooks, HOOKS);
  const probe = join(dir, 'probe.mjs');
  writeFileSync(probe, PROBE(pathToFileURL(hooks).href));
  const out = join(dir, 'loaded.json');
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [BIN, 'serve', '--data', makeDataDir(), '--port', String(port)],
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

describe("the other commands' code is not loaded by a server (issue 9: memory at rest)", () => {
  beforeAll(() => ensureBuilt(), 240_000);
  afterEach(() => {
    for (const child of children.splice(0)) child.kill('SIGKILL');
  });
  afterAll(() => removeTempDirs());

  it('loads the command definitions but no action module of another command', async () => {
    const urls = await modulesOfStartedServer();
    // The probe sees the server's own modules: without them the test would prove nothing.
    expect(urls.some((u) => u.endsWith('/build/src/cli/serve.js'))).toBe(true);
    expect(urls.some((u) => u.endsWith('/build/src/cli/backup.js'))).toBe(true);
    expect(urls.filter((u) => /\/build\/src\/cli\/[\w-]+-action\.js$/.test(u))).toEqual([]);
    for (const heavy of [
      '/backup/create-backup.js',
      '/backup/restore-backup.js',
      '/projections/rebuild.js',
      '/node_modules/tar/',
    ]) {
      expect(urls.filter((u) => u.includes(heavy))).toEqual([]);
    }
  }, 60_000);
});
