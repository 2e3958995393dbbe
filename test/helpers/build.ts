import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import ts from 'typescript';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const BINARY = join(ROOT, 'build/bin/verstak-sync-server');

const SOURCES = ['src', 'views', 'static', 'scripts', 'package.json', 'tsconfig.json', 'tsconfig.build.json'];
// One lock per checkout: test files run in parallel workers and must not rebuild (rm -rf
// build) under each other.
const LOCK = join(
  tmpdir(),
  `verstak-build-${createHash('sha256').update(ROOT).digest('hex').slice(0, 12)}.lock`,
);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function newestMtime(path: string): number {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return readdirSync(path).reduce(
    (newest, name) => Math.max(newest, newestMtime(join(path, name))),
    stat.mtimeMs,
  );
}

function isStale(): boolean {
  if (!existsSync(BINARY)) return true;
  const built = statSync(BINARY).mtimeMs;
  return SOURCES.some((source) => newestMtime(join(ROOT, source)) > built);
}

function lockOwnerAlive(): boolean {
  try {
    process.kill(Number(readFileSync(join(LOCK, 'pid'), 'utf8')), 0);
    return true;
  } catch (err) {
    // No pid file yet: the owner is between mkdir and writing it.
    return (
      (err as NodeJS.ErrnoException).code === 'ENOENT' &&
      Date.now() - statSync(LOCK).mtimeMs < 60_000
    );
  }
}

async function withBuildLock<T>(fn: () => Promise<T>): Promise<T> {
  for (;;) {
    try {
      mkdirSync(LOCK);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      if (!lockOwnerAlive()) rmSync(LOCK, { recursive: true, force: true });
      else await sleep(200);
    }
  }
  writeFileSync(join(LOCK, 'pid'), String(process.pid));
  try {
    return await fn();
  } finally {
    rmSync(LOCK, { recursive: true, force: true });
  }
}

/** Runs ./scripts/build.sh unless build/ is newer than every source. */
export async function ensureBuilt(): Promise<void> {
  await withBuildLock(async () => {
    if (isStale()) await promisify(execFile)(join(ROOT, 'scripts/build.sh'), { cwd: ROOT });
  });
}

/**
 * Transpiles a test fixture next to the compiled sources (test/fixtures/x.ts →
 * build/test/fixtures/x.js), so its `../../src/...js` imports reach build/src. Types are
 * checked by the project's tsc run; this only strips them.
 */
export function compileFixture(relative: string): string {
  const source = readFileSync(join(ROOT, relative), 'utf8');
  const { outputText } = ts.transpileModule(source, {
    compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022 },
    fileName: relative,
  });
  const out = join(ROOT, 'build', relative.replace(/\.ts$/, '.js'));
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, outputText);
  return out;
}
