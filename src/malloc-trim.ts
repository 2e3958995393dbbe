import Database from 'better-sqlite3';

/** The C library whose malloc_trim(3) is called: glibc's, on every Linux that Node ships for. */
const LIBC = 'libc.so.6';

/** SQLite's answer when an extension's entry point returned non-zero: here malloc_trim's 1. */
const TRIMMED_MESSAGE = 'error during initialization';

type ExtensionLoader = { loadExtension(file: string, entryPoint: string): unknown };

/**
 * Hands the pages that glibc's malloc holds free back to the kernel, as malloc_trim(3) does;
 * undefined where that cannot be called (not Linux, not glibc).
 *
 * Why: glibc gives every thread that allocates an arena of its own (V8's compiler and GC
 * helpers, the WAL checkpoint worker, the libuv pool) and returns a freed page to the kernel
 * only when it lies at the top of its heap. What the compiler threads and a retired
 * checkpoint worker freed stays resident: 4–6 MiB of a server at rest (issue 9), on top of
 * what SQLite's page cache and the start-up left in the main heap. Node has no binding for
 * malloc_trim, and a native addon would need a compiler at install time.
 *
 * How: SQLite's extension loader dlopen()s a library and calls an entry point of our
 * choosing, `entry(db, &errmsg, api)`. With glibc's malloc_trim as the entry point, its one
 * argument, `pad`, receives the connection's address: far more than any heap's free top, so
 * the top of the main heap is left as it is (glibc compares before subtracting), while the
 * free pages inside every arena are released, which is what matters here. x86-64 and arm64
 * pass the first argument in a register and the others are ignored. The connection is an
 * in-memory one of its own, opened and closed around the call; extension loading is enabled
 * there only for the C API (SQL's load_extension() stays off), and the server's own
 * connections never load anything.
 */
export function createMallocTrim(): (() => void) | undefined {
  if (process.platform !== 'linux') return undefined;
  const trim = (): boolean => {
    const db = new Database(':memory:');
    try {
      (db as unknown as ExtensionLoader).loadExtension(LIBC, 'malloc_trim');
      return true; // malloc_trim returned 0: nothing was free
    } catch (err) {
      return (err as Error).message.startsWith(TRIMMED_MESSAGE);
    } finally {
      db.close();
    }
  };
  // A C library without the symbol (musl) or without libc.so.6 fails here, once.
  return trim() ? () => void trim() : undefined;
}
