import { closeSync, fsyncSync, openSync } from 'node:fs';
import { dirname } from 'node:path';

/** fsync a file or a directory by path (a directory's fsync makes its new entries durable). */
export function fsyncPath(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** A rename is durable only once the directory holding the new name is synced. */
export const fsyncParent = (path: string) => fsyncPath(dirname(path));
