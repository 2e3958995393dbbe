import { fc, test } from '@fast-check/vitest';
import { describe, expect } from 'vitest';
import { AppError } from '../../src/errors.js';
import { allAt, checkpoints, dumpTable } from '../helpers/dump.js';
import { openTestRuntime, type TestRuntime } from '../helpers/runtime.js';

type Step =
  | {
      kind: 'register';
      username: string;
      email: string;
      confirmed: boolean;
      locale: 'en' | 'ru';
      by: 'self' | 'operator' | 'admin';
    }
  | { kind: 'block' | 'unblock'; target: number };

// Small pools, so duplicates (also differing only in case) are frequent; one name and one
// address are invalid and must be refused without touching anything.
const stepArb: fc.Arbitrary<Step> = fc.oneof(
  fc.record({
    kind: fc.constant('register' as const),
    username: fc.constantFrom('alice', 'Alice', 'bob', 'carol', 'dave.k', 'bad name'),
    email: fc.constantFrom(
      'a@example.org',
      'A@Example.org',
      'b@example.org',
      'c@example.org',
      'nope',
    ),
    confirmed: fc.boolean(),
    locale: fc.constantFrom('en' as const, 'ru' as const),
    by: fc.constantFrom('self' as const, 'operator' as const, 'admin' as const),
  }),
  fc.record({ kind: fc.constantFrom('block' as const, 'unblock' as const), target: fc.nat(6) }),
);

/** Runs the steps through the real user service; refused commands are part of the game. */
async function run(runtime: TestRuntime, steps: readonly Step[]) {
  const ids: string[] = [];
  for (const step of steps) {
    runtime.clock.advance(1000);
    try {
      if (step.kind === 'register') {
        const input = { username: step.username, email: step.email, password: 'password-123' };
        const meta = { actor: 'test' };
        ids.push(
          await runtime.users.register(
            { ...input, confirmed: step.confirmed, locale: step.locale },
            step.by,
            meta,
          ),
        );
      } else {
        // Indexes past the registered users aim at an unknown id.
        const id = ids[step.target] ?? `unknown-${step.target}`;
        runtime.users.setBlocked(id, step.kind === 'block', { actor: 'admin' });
      }
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
    }
  }
}

const users = (runtime: TestRuntime) => dumpTable(runtime.db, 'users');

async function withRuntime(steps: readonly Step[], check: (runtime: TestRuntime) => void) {
  const runtime = openTestRuntime();
  try {
    await run(runtime, steps);
    check(runtime);
  } finally {
    runtime.close();
  }
}

const stepsArb = fc.array(stepArb, { maxLength: 30 });

describe('projection rebuild properties', () => {
  test.prop([stepsArb])('rebuilding from the log gives exactly the rows applied live', (steps) =>
    withRuntime(steps, (runtime) => {
      const live = users(runtime);
      runtime.projector.rebuildAll();
      expect(users(runtime)).toEqual(live);
      expect(checkpoints(runtime.db)).toEqual([...allAt(runtime.store.head())]);
    }),
  );

  test.prop([stepsArb])('rebuilding twice changes nothing', (steps) =>
    withRuntime(steps, (runtime) => {
      runtime.projector.rebuildAll();
      const once = users(runtime);
      const checkpointsOnce = checkpoints(runtime.db);
      runtime.projector.rebuildAll();
      expect(users(runtime)).toEqual(once);
      expect(checkpoints(runtime.db)).toEqual(checkpointsOnce);
    }),
  );

  test.prop([stepsArb])(
    'catchUp rebuilds a projection whose stored version differs from the code',
    (steps) =>
      withRuntime(steps, (runtime) => {
        const live = users(runtime);
        const { db } = runtime;
        db.prepare(
          "UPDATE projection_checkpoints SET version = version + 1 WHERE name = 'users'",
        ).run();
        // Damage the rows too: only a real rebuild brings them back.
        db.prepare('UPDATE users SET blocked = 1 - blocked, locale = ?').run('xx');
        expect(runtime.projector.catchUp()).toEqual(['users']);
        expect(users(runtime)).toEqual(live);
        expect(checkpoints(db)).toEqual([...allAt(runtime.store.head())]);
      }),
  );

  test.prop([stepsArb, fc.nat()])(
    'catchUp from an older position replays the tail without changing the rows',
    (steps, back) =>
      withRuntime(steps, (runtime) => {
        const live = users(runtime);
        const head = runtime.store.head();
        const position = head === 0 ? 0 : back % head;
        runtime.db.prepare('UPDATE projection_checkpoints SET position = ?').run(position);
        expect(runtime.projector.catchUp()).toEqual([]);
        expect(users(runtime)).toEqual(live);
        expect(checkpoints(runtime.db)).toEqual(allAt(head));
      }),
  );
});
