import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { BIN, freePort, makeDataDir, makeTempDir, ROOT } from './helpers.js';

const APP = join(ROOT, 'build/app');

/**
 * ES modules are not in require.cache: a resolve hook (on node's loader thread) posts every
 * module URL it resolves back to the process.
 */
const HOOKS = `let port;
export function initialize(data) { port = data.port; }
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  port.postMessage(result.url);
  return result;
}
`;

/**
 * Loaded with the server (NODE_OPTIONS=--import): on SIGUSR2 it writes the ES modules it saw
 * resolved and the CommonJS modules loaded (what the bundle requires by name at run time, such
 * as nodemailer) to the file named by LOADED_OUT.
 */
const PROBE = (hooks: string) => `import { createRequire, register } from 'node:module';
import { MessageChannel } from 'node:worker_threads';
import { writeFileSync } from 'node:fs';
const require = createRequire(import.meta.url);
const urls = new Set();
const { port1, port2 } = new MessageChannel();
port1.on('message', (url) => urls.add(url));
port1.unref();
register(${JSON.stringify(hooks)}, { data: { port: port2 }, transferList: [port2] });
process.on('SIGUSR2', () => writeFileSync(process.env.LOADED_OUT, JSON.stringify([...urls, ...Object.keys(require.cache)])));
`;

/** The bundle's chunks (build/app/*.js) and the modules each holds (scripts/bundle.ts). */
export function bundleChunks(): Record<string, string[]> {
  return JSON.parse(readFileSync(join(APP, 'chunks.json'), 'utf8')) as Record<string, string[]>;
}

/** Every module in the bundle, as a path from the checkout (build/src/..., node_modules/...). */
export const bundledModules = (): string[] => Object.values(bundleChunks()).flat();

/**
 * Starts the built server with the probe imported before it, waits for it to serve, then
 * sends SIGUSR2 and returns the modules it has loaded, as paths from the checkout: each
 * loaded chunk of the bundle stands for the modules it holds. The child is pushed onto
 * `children` for the caller to kill.
 */
export async function modulesOfStartedServer(
  extraArgs: readonly string[],
  children: ChildProcess[],
): Promise<string[]> {
  const dir = makeTempDir('verstak-modules-');
  const hooksFile = join(dir, 'hooks.mjs');
  writeFileSync(hooksFile, HOOKS);
  const probeFile = join(dir, 'probe.mjs');
  writeFileSync(probeFile, PROBE(pathToFileURL(hooksFile).href));
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
  const loaded = JSON.parse(readFileSync(out, 'utf8')) as string[];
  const chunks = bundleChunks();
  return [
    ...new Set(
      loaded
        .map((entry) => (entry.startsWith('file:') ? fileURLToPath(entry) : entry))
        .filter((file) => file.startsWith('/'))
        .flatMap((file) =>
          relative(APP, file).includes('/')
            ? [relative(ROOT, file)]
            : (chunks[relative(APP, file)] ?? [relative(ROOT, file)]),
        ),
    ),
  ];
}
