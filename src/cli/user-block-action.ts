import { findUserById, findUserByUsername } from '../projections/users.js';
import type { Runtime } from '../runtime.js';
import { withRuntime } from './data-dir.js';
import { printOut, text } from './output.js';

interface UserBlockOptions {
  data?: string;
  id?: string;
  username?: string;
}

function findTarget(runtime: Runtime, opts: UserBlockOptions) {
  if ((opts.id === undefined) === (opts.username === undefined)) {
    throw new Error('name the user with exactly one of --id and --username');
  }
  const user =
    opts.id !== undefined
      ? findUserById(runtime.db, opts.id)
      : findUserByUsername(runtime.db, opts.username!);
  if (!user) {
    throw new Error(
      opts.id !== undefined ? `no user with id ${opts.id}` : `no user named ${opts.username}`,
    );
  }
  return user;
}

export const setBlocked = (blocked: boolean) => async (opts: UserBlockOptions) => {
  const outcome = await withRuntime(opts, (runtime) => {
    const user = findTarget(runtime, opts);
    const changed = runtime.users.setBlocked(user.id, blocked, { actor: 'cli' });
    return { user, changed };
  });
  const verb = blocked ? 'blocked' : 'unblocked';
  const who = text`${outcome.user.username} (id ${outcome.user.id})`;
  printOut(outcome.changed ? `${verb} user ${who}\n` : `user ${who} was already ${verb}\n`);
};
