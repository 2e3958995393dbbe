import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, makeTempDir, removeTempDirs } from './helpers.js';
import { modulesOfStartedServer } from './server-modules.js';

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

function modulesOfServer(): Promise<string[]> {
  const hooks = join(makeTempDir('verstak-lazy-cmd-'), 'hooks.mjs');
  writeFileSync(hooks, HOOKS);
  return modulesOfStartedServer(PROBE(pathToFileURL(hooks).href), [], children);
}

describe("the other commands' code is not loaded by a server (issue 9: memory at rest)", () => {
  beforeAll(() => ensureBuilt(), 240_000);
  afterEach(() => {
    for (const child of children.splice(0)) child.kill('SIGKILL');
  });
  afterAll(() => removeTempDirs());

  it('loads the command definitions but no action module of another command', async () => {
    const urls = await modulesOfServer();
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
