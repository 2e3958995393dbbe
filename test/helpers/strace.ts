import { execFileSync } from 'node:child_process';

function findStrace(): string | undefined {
  try {
    return execFileSync('which', ['strace'], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Path of strace (.ci/run installs it), undefined where it is missing. */
export const strace = findStrace();
