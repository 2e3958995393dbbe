import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { BIN, freePort, makeDataDir, makeTempDir } from './helpers.js';

/**
 * Starts the built server with `probe` (an ES module's text) imported before it
 * (NODE_OPTIONS=--import), waits for it to serve, then sends SIGUSR2: the probe writes the
 * modules it saw loaded to the JSON file named by LOADED_OUT, which is returned. The child
 * is pushed onto `children` for the caller to kill.
 */
export async function modulesOfStartedServer(
  probe: string,
  extraArgs: readonly string[],
  children: ChildProcess[],
): Promise<string[]> {
  const dir = makeTempDir('verstak-modules-');
  const probeFile = join(dir, 'probe.mjs');
  writeFileSync(probeFile, probe);
  const out = join(dir, 'loaded.json');
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [BIN, 'serve', '--data', makeDataDir(), '--port', String(port), ...extraArgs],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: {
        ...process.env,
        NODE_OPTIONS: `--import ${pathToFileURL(probeFile).href}`,
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
