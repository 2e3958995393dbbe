import { createInterface } from 'node:readline';
import { findUserById, findUserByUsername } from '../projections/users.js';
import { withRuntime } from './data-dir.js';
import { printErr, printOut, text } from './output.js';

interface UserDeleteOptions {
  data?: string;
  yes?: boolean;
}

/** One line from standard input: the typed confirmation (or a piped one in scripts). */
async function readLine(prompt: string): Promise<string> {
  const rl = createInterface({ input: process.stdin, terminal: false });
  printErr(prompt);
  try {
    for await (const line of rl) return line.trim();
    return '';
  } finally {
    rl.close();
  }
}

// Deleting cannot be undone (the content is erased from the log too), so without --yes the
// operator types the username back, as a guard against a wrong id pasted in.
export async function deleteUser(target: string, opts: UserDeleteOptions) {
  const outcome = await withRuntime(opts, async (runtime) => {
    const user = findUserById(runtime.db, target) ?? findUserByUsername(runtime.db, target);
    if (!user) throw new Error(`no user with id or username ${target}`);
    if (!opts.yes) {
      const typed = await readLine(
        text`delete ${user.username} (id ${user.id}) and erase their content? type the username to confirm: `,
      );
      if (typed !== user.username) throw new Error('not confirmed: nothing was deleted');
    }
    return { user, deletion: runtime.users.delete(user.id, { actor: 'cli' }) };
  });
  const { user, deletion } = outcome;
  printOut(
    text`deleted user ${user.username} (id ${user.id}): UserDeleted at seq ${deletion.seq}, ` +
      `${deletion.redactedEvents} events redacted, ${deletion.blobs} blobs released\n`,
  );
  if (!deletion.walTruncated) {
    printErr(
      'warning: a reader kept the WAL from being truncated; erased pages leave it at the next checkpoint\n',
    );
  }
}
