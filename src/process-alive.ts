/**
 * Whether a process of this machine is alive. Files staged by a process carry its pid: a
 * CLI command may work in the data directory beside the server, so only a dead writer's
 * files are leftovers. EPERM means alive under another user.
 */
export function isProcessRunning(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
