import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createBus } from '../../src/bus.js';
import type { Decider } from '../../src/commands/decider.js';
import { createCommandHandler } from '../../src/commands/handle.js';
import {
  userDecider,
  userStream,
  type UserCommand,
  type UserEvent,
  type UserState,
} from '../../src/commands/user.js';
import { AppError } from '../../src/errors.js';
import {
  ConcurrencyError,
  openDatabase,
  type RecordedEvent,
  type Sqlite,
} from '../../src/log/index.js';
import { createProjector, type Projection } from '../../src/projections/index.js';
import { findUserById, usersProjection } from '../../src/projections/users.js';
import { allAt, checkpoints, dumpTable } from '../helpers/dump.js';
import { allRows } from '../helpers/log.js';
import { useRuntimes } from '../helpers/runtime.js';

const openRuntime = useRuntimes();
const META = { actor: 'test' };

const register = (userId: string, username = userId): UserCommand => ({
  type: 'RegisterUser',
  data: {
    userId,
    username,
    email: `${username}@example.org`,
    passwordHash: 'test$pw',
    confirmed: true,
    locale: 'en',
    registeredBy: 'operator',
    usernameTaken: false,
    usernameLookalike: false,
    emailTaken: false,
  },
});
const block = (userId: string): UserCommand => ({ type: 'BlockUser', data: { userId, liveSessions: [] } });

/** Everything a failed command must leave exactly as it was. */
const snapshot = (db: Sqlite) => ({
  events: allRows(db),
  users: dumpTable(db, 'users'),
  checkpoints: checkpoints(db),
});

describe('command handler', () => {
  it('applies the events to the projections before returning', () => {
    const runtime = openRuntime();
    const [event] = runtime.handle({
      stream: userStream('u1'),
      decider: userDecider,
      command: register('u1'),
      meta: META,
    });
    expect(event).toMatchObject({ seq: 1, version: 1, type: 'UserRegistered', stream: 'user/u1' });
    expect(findUserById(runtime.db, 'u1')).toMatchObject({
      username: 'u1',
      blocked: 0,
      confirmed: 1,
    });
    runtime.handle({
      stream: userStream('u1'),
      decider: userDecider,
      command: block('u1'),
      meta: META,
    });
    expect(findUserById(runtime.db, 'u1')?.blocked).toBe(1);
    expect(checkpoints(runtime.db)).toEqual(allAt(2));
  });

  it('builds the command inside the write transaction when given a function', () => {
    const runtime = openRuntime();
    let sawTransaction = false;
    runtime.handle({
      stream: userStream('u1'),
      decider: userDecider,
      meta: META,
      command: (db) => {
        sawTransaction = db.inTransaction;
        return register('u1');
      },
    });
    expect(sawTransaction).toBe(true);
  });

  it('leaves no event and no projection change when the decider throws', () => {
    const runtime = openRuntime();
    runtime.handle({
      stream: userStream('u1'),
      decider: userDecider,
      command: register('u1'),
      meta: META,
    });
    const before = snapshot(runtime.db);
    const announced: unknown[] = [];
    runtime.bus.on('committed', (events) => announced.push(events));
    const refusing: Decider<UserState, UserCommand, UserEvent> = {
      ...userDecider,
      decide: () => {
        throw new AppError(409, 'already_exists', 'no');
      },
    };
    expect(() =>
      runtime.handle({
        stream: userStream('u2'),
        decider: refusing,
        command: register('u2'),
        meta: META,
      }),
    ).toThrow(AppError);
    expect(snapshot(runtime.db)).toEqual(before);
    expect(announced).toEqual([]);
    expect(runtime.db.inTransaction).toBe(false);
  });

  it('appends nothing and announces nothing for a no-op decision', () => {
    const runtime = openRuntime();
    runtime.handle({
      stream: userStream('u1'),
      decider: userDecider,
      command: register('u1'),
      meta: META,
    });
    const announced: unknown[] = [];
    runtime.bus.on('committed', (events) => announced.push(events));
    const unblock: UserCommand = { type: 'UnblockUser', data: { userId: 'u1' } };
    expect(
      runtime.handle({
        stream: userStream('u1'),
        decider: userDecider,
        command: unblock,
        meta: META,
      }),
    ).toEqual([]);
    expect(runtime.store.head()).toBe(1);
    expect(announced).toEqual([]);
  });

  it('refuses a stale expected version (If-Match) and writes nothing', () => {
    const runtime = openRuntime();
    runtime.handle({
      stream: userStream('u1'),
      decider: userDecider,
      command: register('u1'),
      meta: META,
    });
    const before = snapshot(runtime.db);
    expect(() =>
      runtime.handle({
        stream: userStream('u1'),
        decider: userDecider,
        command: block('u1'),
        meta: META,
        expectedVersion: 0,
      }),
    ).toThrow(ConcurrencyError);
    expect(snapshot(runtime.db)).toEqual(before);
  });

  it('refuses to run inside a caller transaction', () => {
    const runtime = openRuntime();
    const nested = runtime.db.transaction(() =>
      runtime.handle({
        stream: userStream('u1'),
        decider: userDecider,
        command: register('u1'),
        meta: META,
      }),
    );
    expect(nested).toThrow(/must not run inside another transaction/);
    expect(runtime.store.head()).toBe(0);
  });

  it('gives consecutive commands contiguous seqs', () => {
    const runtime = openRuntime();
    const seqs = [
      runtime.handle({
        stream: userStream('u1'),
        decider: userDecider,
        command: register('u1'),
        meta: META,
      }),
      runtime.handle({
        stream: userStream('u2'),
        decider: userDecider,
        command: register('u2'),
        meta: META,
      }),
      runtime.handle({
        stream: userStream('u1'),
        decider: userDecider,
        command: block('u1'),
        meta: META,
      }),
    ].flatMap((events) => events.map((e) => e.seq));
    expect(seqs).toEqual([1, 2, 3]);
  });
});

describe('command handler: a projection that throws', () => {
  it('rolls back the append, the other projections and the checkpoint', () => {
    const runtime = openRuntime();
    const { db, store, clock } = runtime;
    const failing: Projection = {
      name: 'failing',
      version: 1,
      tables: [],
      handles: ['UserBlocked'],
      init: () => {},
      apply: () => {
        throw new Error('projection bug');
      },
    };
    // usersProjection first, so its update has already run when the failing one throws.
    const projector = createProjector(db, store, [usersProjection, failing]);
    projector.catchUp();
    const bus = createBus();
    const announced: unknown[] = [];
    bus.on('committed', (events) => announced.push(events));
    const { handle } = createCommandHandler({ db, store, projector, bus, clock });

    handle({ stream: userStream('u1'), decider: userDecider, command: register('u1'), meta: META });
    const before = snapshot(db);
    expect(() =>
      handle({ stream: userStream('u1'), decider: userDecider, command: block('u1'), meta: META }),
    ).toThrow('projection bug');
    expect(store.head()).toBe(1);
    expect(snapshot(db)).toEqual(before);
    expect(findUserById(db, 'u1')?.blocked).toBe(0);
    expect(announced).toHaveLength(1);
  });
});

describe('command handler: the bus', () => {
  it('announces events only once they are committed and visible to another connection', () => {
    const runtime = openRuntime({ onDisk: true });
    const reader = openDatabase(join(runtime.dataDir, 'server.db'), {
      mustExist: true,
      readonly: true,
    });
    try {
      const seen: { seqs: number[]; inTransaction: boolean; head: number; otherHead: number }[] =
        [];
      runtime.bus.on('committed', (events: readonly RecordedEvent[]) =>
        seen.push({
          seqs: events.map((e) => e.seq),
          inTransaction: runtime.db.inTransaction,
          head: runtime.store.head(),
          otherHead: reader
            .prepare('SELECT coalesce(max(seq), 0) FROM events')
            .pluck()
            .get() as number,
        }),
      );
      runtime.handle({
        stream: userStream('u1'),
        decider: userDecider,
        command: register('u1'),
        meta: META,
      });
      expect(() =>
        runtime.handle({
          stream: userStream('u1'),
          decider: userDecider,
          command: register('u1'),
          meta: META,
        }),
      ).toThrow(AppError);
      runtime.handle({
        stream: userStream('u1'),
        decider: userDecider,
        command: block('u1'),
        meta: META,
      });
      expect(seen).toEqual([
        { seqs: [1], inTransaction: false, head: 1, otherHead: 1 },
        { seqs: [2], inTransaction: false, head: 2, otherHead: 2 },
      ]);
    } finally {
      reader.close();
    }
  });
});
