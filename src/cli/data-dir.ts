import { existsSync } from 'node:fs';
import { databaseFileOf, openRuntime, type Runtime } from '../runtime.js';
import { dataDirOf } from './options.js';

/**
 * The database of an existing data directory. Operator commands refuse to create one:
 * a mistyped --data would otherwise leave a fresh, empty server behind.
 */
export function existingDatabaseFile(opts: { data?: string }): { dataDir: string; file: string } {
  const dataDir = dataDirOf(opts);
  const file = databaseFileOf(dataDir);
  if (!existsSync(file)) {
    throw new Error(
      `no server database at ${file} (check --data; the server creates it on first start)`,
    );
  }
  return { dataDir, file };
}

/** Opens the data directory with the server's own modules, runs `fn`, and always closes it. */
export async function withRuntime<T>(
  opts: { data?: string },
  fn: (runtime: Runtime) => T | Promise<T>,
): Promise<T> {
  const { dataDir } = existingDatabaseFile(opts);
  const runtime = openRuntime({ dataDir });
  try {
    return await fn(runtime);
  } finally {
    runtime.close();
  }
}

export const DATA_OPTION = ['--data <dir>', 'data directory', './server-data'] as const;
