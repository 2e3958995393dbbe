import { fc, test } from '@fast-check/vitest';
import { describe, expect } from 'vitest';
import type { PushOpInput } from '../../src/commands/vault.js';
import { vaultsProjection } from '../../src/projections/vaults.js';
import { dumpTable } from '../helpers/dump.js';
import { openTestRuntime, type TestRuntime } from '../helpers/runtime.js';

// The vaults projection decides which ops pulls leave out (superseded_ops) while ops are
// appended: a rebuild from the log must reach exactly the same rows, batch or one by one.

const PATHS = ['a.md', 'b.md', 'F/c.md', 'F'];

const opArb = fc.oneof(
  fc.record({
    entity_type: fc.constantFrom('file', 'folder'),
    op_type: fc.constantFrom('create', 'update', 'delete'),
    path: fc.constantFrom(...PATHS),
    // Sometimes the payload's path is not the entity_id (never paired up).
    aside: fc.boolean(),
  }),
  fc.record({
    entity_type: fc.constantFrom('file', 'folder'),
    op_type: fc.constant('move'),
    path: fc.constantFrom(...PATHS),
    aside: fc.constant(false),
  }),
  fc.record({
    entity_type: fc.constantFrom('workspace', 'workspace-folder', 'plugin-record'),
    op_type: fc.constantFrom('create', 'rename', 'trash', 'update'),
    path: fc.constantFrom('W', 'V'),
    aside: fc.constant(false),
  }),
);

type OpSpec = { entity_type: string; op_type: string; path: string; aside: boolean };

const wire = (spec: OpSpec, n: number): PushOpInput => ({
  op_id: `op-${n % 40}`,
  entity_type: spec.entity_type,
  entity_id: spec.path,
  op_type: spec.op_type,
  payload_json: JSON.stringify(
    spec.op_type === 'move'
      ? { fromPath: spec.path, toPath: `${spec.path}.moved` }
      : { path: spec.aside ? `elsewhere/${spec.path}` : spec.path, content: `v${n}` },
  ),
  created_at: '2026-12-04T10:00:00Z',
  client_sequence: n,
  last_seen_server_seq: 0,
});

const batchesArb = fc.array(
  fc.record({ device: fc.nat(1), ops: fc.array(opArb, { minLength: 1, maxLength: 6 }) }),
  { maxLength: 12 },
);

const tables = (runtime: TestRuntime) =>
  Object.fromEntries(vaultsProjection.tables.map((t) => [t, dumpTable(runtime.db, t)]));

async function withPushes(
  batches: readonly { device: number; ops: readonly OpSpec[] }[],
  check: (runtime: TestRuntime) => void,
) {
  const runtime = openTestRuntime();
  try {
    const userId = await runtime.users.register(
      { username: 'alice', email: 'alice@example.test', password: 'password-123', confirmed: true },
      'operator',
      { actor: 'test' },
    );
    const devices = [];
    for (const name of ['one', 'two']) {
      const paired = await runtime.devices.pair(
        {
          login: 'alice',
          password: 'password-123',
          deviceName: name,
          clientVersion: 't',
          vaultId: 'v',
          via: 'pair',
        },
        { actor: 'test' },
      );
      devices.push(paired.deviceId);
    }
    let n = 0;
    for (const batch of batches) {
      const ops = batch.ops.map((spec) => wire(spec, (n += 1)));
      const scope = { userId, vaultId: 'v', deviceId: devices[batch.device]! };
      await runtime.sync.push(scope, { idempotencyKey: '', ops }, { actor: 'test' });
    }
    check(runtime);
  } finally {
    runtime.close();
  }
}

describe('the vaults projection', () => {
  test.prop([batchesArb])('rebuilds from the log to the rows applied live', (batches) =>
    withPushes(batches, (runtime) => {
      const live = tables(runtime);
      runtime.projector.rebuildAll();
      expect(tables(runtime)).toEqual(live);
    }),
  );

  test.prop([batchesArb])('applies one event at a time to the rows a batch gives', (batches) =>
    withPushes(batches, (runtime) => {
      const live = tables(runtime);
      const { db } = runtime;
      for (const table of vaultsProjection.tables) db.prepare(`DELETE FROM ${table}`).run();
      // As a rebuild does: init seeds the emptied counters (counters.ts) before the events.
      vaultsProjection.init(db);
      db.transaction(() => {
        for (const event of runtime.store.readRange(0, 1_000_000)) {
          if (vaultsProjection.handles.includes(event.type)) vaultsProjection.apply(db, event);
        }
      })();
      expect(tables(runtime)).toEqual(live);
    }),
  );
});
