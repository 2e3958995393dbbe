import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { userDecider, userStream, type UserCommand } from '../../src/commands/user.js';
import type { RecordedEvent } from '../../src/log/index.js';
import { findUserById } from '../../src/projections/users.js';
import { openRuntime, type Runtime } from '../../src/runtime.js';

let dir: string;
let runtime: Runtime;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'vss-group-'));
  runtime = openRuntime({ dataDir: dir });
});
afterEach(() => {
  runtime.close();
  rmSync(dir, { recursive: true, force: true });
});

const register = (userId: string, username: string): UserCommand => ({
  type: 'RegisterUser',
  data: {
    userId,
    username,
    email: `${username}@example.test`,
    passwordHash: 'argon2-digest-not-checked-here',
    confirmed: true,
    locale: 'en',
    registeredBy: 'operator',
    usernameTaken: false,
    usernameLookalike: false,
    emailTaken: false,
  },
});

it('commits queued commands together, each refused one alone', async () => {
  const announced: RecordedEvent[][] = [];
  runtime.bus.on('committed', (events) => announced.push([...events]));
  const meta = { actor: 'test' };
  const first = runtime.enqueue({
    stream: userStream('u1'),
    decider: userDecider,
    meta,
    command: register('u1', 'ann'),
  });
  const refused = runtime.enqueue({
    stream: userStream('u2'),
    decider: userDecider,
    meta,
    command: { type: 'BlockUser', data: { userId: 'u2', liveSessions: [] } },
  });
  const third = runtime.enqueue({
    stream: userStream('u3'),
    decider: userDecider,
    meta,
    command: register('u3', 'bob'),
  });
  await expect(refused).rejects.toMatchObject({ code: 'not_found' });
  const [a, c] = await Promise.all([first, third]);
  expect(a.map((e) => e.seq)).toEqual([1]);
  expect(c.map((e) => e.seq)).toEqual([2]);
  expect(runtime.store.head()).toBe(2);
  expect(findUserById(runtime.db, 'u1')?.username).toBe('ann');
  expect(findUserById(runtime.db, 'u3')?.username).toBe('bob');
  expect(announced.map((events) => events.map((e) => e.seq))).toEqual([[1], [2]]);
});

it('refuses every queued command when the commit itself fails', async () => {
  const pages = runtime.db.pragma('page_count', { simple: true }) as number;
  runtime.db.pragma(`max_page_count = ${pages}`);
  const meta = { actor: 'test' };
  const jobs = ['a', 'b'].map((name) =>
    runtime.enqueue({
      stream: userStream(name),
      decider: userDecider,
      meta,
      command: register(name, 'x'.repeat(3000) + name),
    }),
  );
  const results = await Promise.allSettled(jobs);
  expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
  expect(runtime.store.head()).toBe(0);
});

it('keeps a command successful when a bus listener throws after its commit', async () => {
  const seen: number[] = [];
  runtime.bus.on('committed', () => {
    throw new Error('listener bug');
  });
  runtime.bus.on('committed', (events) => seen.push(...events.map((e) => e.seq)));
  const warned = new Promise<Error>((resolve) => process.once('warning', resolve));
  const events = runtime.handle({
    stream: userStream('u9'),
    decider: userDecider,
    meta: { actor: 'test' },
    command: register('u9', 'zed'),
  });
  expect(events.map((e) => e.seq)).toEqual([1]);
  expect(seen).toEqual([1]);
  expect((await warned).message).toBe('listener bug');
});
