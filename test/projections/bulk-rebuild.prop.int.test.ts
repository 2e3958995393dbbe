import { fc, test } from '@fast-check/vitest';
import { describe, expect } from 'vitest';
import type { PushOpInput } from '../../src/commands/vault.js';
import { PROJECTIONS } from '../../src/projections/index.js';
import { dumpTable } from '../helpers/dump.js';
import { openTestRuntime, type TestRuntime } from '../helpers/runtime.js';

// Replay's scratch rebuild runs the projections' bulk hooks (Projection.bulk): entity heads
// kept in memory, device counts and the users' unique indexes written at the end. The
// tables must come out as the live, event-by-event ones, through deletions and revocations.

const USERS = 3;
const META = { actor: 'test' };

const stepArb = fc.oneof(
  fc.record({ kind: fc.constant('register' as const), user: fc.nat(USERS - 1) }),
  fc.record({
    kind: fc.constant('pair' as const),
    user: fc.nat(USERS - 1),
    vault: fc.constantFrom('v', 'w'),
  }),
  fc.record({ kind: fc.constant('revoke' as const), user: fc.nat(USERS - 1), device: fc.nat(3) }),
  fc.record({
    kind: fc.constant('push' as const),
    user: fc.nat(USERS - 1),
    device: fc.nat(1),
    ops: fc.array(
      fc.record({
        op_type: fc.constantFrom('create', 'update', 'delete', 'move'),
        path: fc.constantFrom('a.md', 'b.md', 'F/c.md'),
      }),
      { minLength: 1, maxLength: 5 },
    ),
  }),
  fc.record({ kind: fc.constant('delete' as const), user: fc.nat(USERS - 1) }),
);

type Step = typeof stepArb extends fc.Arbitrary<infer T> ? T : never;

const wire = (opType: string, path: string, n: number): PushOpInput => ({
  op_id: `op-${n % 25}`,
  entity_type: 'file',
  entity_id: path,
  op_type: opType,
  payload_json: JSON.stringify(
    opType === 'move' ? { fromPath: path, toPath: `${path}.moved` } : { path, content: `v${n}` },
  ),
  created_at: '2026-12-04T10:00:00Z',
  client_sequence: n,
  last_seen_server_seq: 0,
});

interface Account {
  userId: string;
  devices: { deviceId: string; vaultId: string }[];
}

async function play(runtime: TestRuntime, steps: readonly Step[], prefix: string) {
  const accounts = new Map<number, Account>();
  let generation = 0;
  let n = 0;
  for (const step of steps) {
    const account = accounts.get(step.user);
    if (step.kind === 'register') {
      if (account) continue;
      // The same username again after a deletion: the unique indexes must allow it.
      const username = `${prefix}${step.user}`;
      const userId = await runtime.users.register(
        {
          username,
          email: `${username}-${(generation += 1)}@example.test`,
          password: 'password-123',
          confirmed: true,
        },
        'operator',
        META,
      );
      accounts.set(step.user, { userId, devices: [] });
      continue;
    }
    if (!account) continue;
    if (step.kind === 'pair') {
      const paired = await runtime.devices.pair(
        {
          login: `${prefix}${step.user}`,
          password: 'password-123',
          deviceName: `d${account.devices.length}`,
          clientVersion: 't',
          vaultId: step.vault,
          via: 'pair',
        },
        META,
      );
      account.devices.push({ deviceId: paired.deviceId, vaultId: step.vault });
    } else if (step.kind === 'revoke') {
      const device = account.devices[step.device];
      if (device) runtime.devices.revoke(device.deviceId, account.userId, 'user', META);
    } else if (step.kind === 'push') {
      const device = account.devices[step.device];
      if (!device) continue;
      const ops = step.ops.map((op) => wire(op.op_type, op.path, (n += 1)));
      const scope = { userId: account.userId, vaultId: device.vaultId, deviceId: device.deviceId };
      try {
        await runtime.sync.push(scope, { idempotencyKey: '', ops }, META);
      } catch {
        // A revoked device's push is refused: nothing appended, nothing to compare.
      }
    } else {
      runtime.users.delete(account.userId, META);
      accounts.delete(step.user);
    }
  }
}

const allTables = (runtime: TestRuntime) =>
  Object.fromEntries(
    PROJECTIONS.flatMap((p) => p.tables).map((t) => [t, dumpTable(runtime.db, t)]),
  );

describe('a bulk rebuild', () => {
  // A deleted user's vault heads and device counts, then the same username again.
  const deletedWithHistory: Step[] = [
    { kind: 'register', user: 0 },
    { kind: 'pair', user: 0, vault: 'v' },
    { kind: 'push', user: 0, device: 0, ops: [{ op_type: 'create', path: 'a.md' }] },
    { kind: 'register', user: 1 },
    { kind: 'pair', user: 1, vault: 'w' },
    { kind: 'pair', user: 1, vault: 'w' },
    { kind: 'push', user: 1, device: 0, ops: [{ op_type: 'create', path: 'a.md' }] },
    { kind: 'push', user: 1, device: 1, ops: [{ op_type: 'update', path: 'a.md' }] },
    { kind: 'revoke', user: 1, device: 0 },
    { kind: 'delete', user: 0 },
    { kind: 'register', user: 0 },
  ];
  test.prop([fc.array(stepArb, { maxLength: 40 })], {
    numRuns: 30,
    examples: [[deletedWithHistory]],
  })('gives the rows applied live, in batches of a few events', async (steps) => {
    const runtime = openTestRuntime();
    try {
      await play(runtime, steps, 'first');
      const live = allTables(runtime);
      runtime.projector.rebuildAll(undefined, { batch: 3, deferIndexes: true, bulk: true });
      expect(allTables(runtime)).toEqual(live);
      // The hooks are done: the next events apply one by one to the finished tables.
      await play(runtime, steps, 'second');
      const after = allTables(runtime);
      runtime.projector.rebuildAll();
      expect(allTables(runtime)).toEqual(after);
    } finally {
      runtime.close();
    }
  });
});
