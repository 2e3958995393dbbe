/**
 * Bundles the compiled server (build/src/cli.js) into build/app/, the code the launcher and
 * build/bin/verstak-sync-server run. Run by scripts/build.sh after tsc.
 *
 * Why a bundle (issue 9, a small VPS): V8 keeps the source text of every module it loads, and
 * node_modules ship their whole packages (zod with its 74 locales, kysely's dialects, comments
 * and all). One tree-shaken, minified bundle made the started server's own memory (RssAnon)
 * some 8 MiB smaller. Names are not mangled, so a stack trace in the log still names its
 * functions; the source maps beside the chunks are read only under `--enable-source-maps`.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'rolldown';

const BUILD = fileURLToPath(new URL('..', import.meta.url));
const ROOT = resolve(BUILD, '..');
const OUT = join(BUILD, 'app');

/**
 * Loaded from node_modules at run time: native addons (their .node files are found next to
 * their JavaScript) and what the code itself requires lazily by name.
 */
const EXTERNAL = [/^better-sqlite3(\/|$)/, /^argon2(\/|$)/];

/** Chunk files → the modules each holds, for tests that check what a started server loads. */
export const CHUNKS_FILE = 'chunks.json';

async function bundle(): Promise<void> {
  const output = await build({
    input: join(BUILD, 'src/cli.js'),
    platform: 'node',
    external: EXTERNAL,
    logLevel: 'warn',
    output: {
      dir: OUT,
      format: 'esm',
      cleanDir: true,
      // Stable names without hashes: a server has no cache to bust, and a name says what a
      // chunk holds (backup-action.js is the backup command's code).
      entryFileNames: '[name].js',
      chunkFileNames: '[name].js',
      minify: { mangle: false, compress: true, codegen: { removeWhitespace: true } },
      // V8 stores a source file with one character beyond Latin-1 at two bytes per character:
      // escaped, every chunk is stored at one (the build checks it below).
      charset: 'ascii',
      comments: false,
      sourcemap: true,
    },
  });
  const chunks: Record<string, string[]> = {};
  for (const file of output.output) {
    if (file.type !== 'chunk') continue;
    chunks[file.fileName] = file.moduleIds.map((id) => relative(ROOT, id)).sort();
  }
  writeFileSync(join(OUT, CHUNKS_FILE), `${JSON.stringify(chunks, null, 1)}\n`);
  for (const name of readdirSync(OUT).filter((n) => n.endsWith('.js'))) {
    const text = readFileSync(join(OUT, name), 'utf8');
    const at = text.search(/[\u0100-\uffff]/);
    if (at >= 0) {
      throw new Error(
        `${name}: a character beyond Latin-1 left at offset ${at}: ${text.slice(at - 40, at + 20)}`,
      );
    }
  }
}

await bundle();
