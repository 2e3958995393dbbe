import { readdirSync } from 'node:fs';
import { constants, setPriority } from 'node:os';

/**
 * Puts every thread of this process at the lowest CPU priority (nice 19), so a backup takes
 * only the CPU the server leaves idle. On Linux a nice value belongs to a thread, not to the
 * process: setPriority(0) would move the main thread alone, while the zlib and fs work runs
 * on libuv's pool threads. Threads started later inherit the value of the thread starting them.
 * Best effort: a system that refuses (or has no /proc) runs the backup at normal priority.
 */
export function lowerOwnPriority(): void {
  const low = constants.priority.PRIORITY_LOW;
  try {
    setPriority(0, low);
  } catch {
    return;
  }
  let threads: string[];
  try {
    threads = readdirSync('/proc/self/task');
  } catch {
    return;
  }
  for (const tid of threads) {
    try {
      setPriority(Number(tid), low);
    } catch {
      // The thread ended meanwhile.
    }
  }
}
