import {
  CATALOGUE,
  createEventStore,
  inWriteTransaction,
  migrateLog,
  openDatabase,
  type AppendRequest,
  type DomainEvent,
} from '../../src/log/index.js';
import { createProjector, PROJECTIONS } from '../../src/projections/index.js';
import type { LiveLog } from '../../src/projections/rebuild.js';
import { openRuntime } from '../../src/runtime.js';

/** The live database of a replay test: the log, its store and every projection. */
export function openLiveLog(file: string): LiveLog {
  const db = openDatabase(file);
  migrateLog(db, () => 'test-epoch');
  const store = createEventStore(db, CATALOGUE);
  return { db, store, projector: createProjector(db, store, PROJECTIONS) };
}

export const registeredUser = (userId: string, confirmed = false): DomainEvent => ({
  type: 'UserRegistered',
  data: {
    userId,
    username: `name-${userId}`,
    email: `${userId}@example.com`,
    passwordHash: `$argon2id$fake-${userId}`,
    confirmed,
    locale: 'en',
    registeredBy: 'operator',
  },
});

/** Registers each user in a command of its own, as the server does; `confirmed` by position. */
export function seedUsers(
  target: LiveLog,
  ids: readonly string[],
  confirmed: (index: number) => boolean = () => false,
): void {
  ids.forEach((id, i) =>
    inWriteTransaction(target.db, () =>
      target.projector.apply(
        target.store.append(
          [{ stream: `user/${id}`, events: [registeredUser(id, confirmed(i))] }],
          { actor: 'test' },
          new Date(),
        ),
      ),
    ),
  );
}

/**
 * `count` registrations of user<8 digits> from `from` on, each its own stream, every other
 * one confirmed: what a large log for a replay is made of.
 */
function userRegistrations(from: number, count: number): AppendRequest[] {
  return Array.from({ length: count }, (_, k) => {
    const userId = `user${String(from + k).padStart(8, '0')}`;
    return {
      stream: `user/${userId}`,
      expectedVersion: 0,
      events: [registeredUser(userId, k % 2 === 0)],
    };
  });
}

/** Registers `users` users in the data directory's log, `batch` per command, as the server would. */
export function registerUsersIn(dataDir: string, users: number, batch = 1000): void {
  const runtime = openRuntime({ dataDir });
  try {
    for (let from = 0; from < users; from += batch) {
      inWriteTransaction(runtime.db, () =>
        runtime.projector.apply(
          runtime.store.append(userRegistrations(from, batch), { actor: 'test' }, new Date()),
        ),
      );
    }
  } finally {
    runtime.close();
  }
}
