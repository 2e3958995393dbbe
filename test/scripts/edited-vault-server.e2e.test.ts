import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  differenceFrom,
  editedVault,
  pushBatches,
  QUICK_VAULT,
  type VaultShape,
} from '../../scripts/bench/edited-vault.js';
import {
  addUser,
  call,
  pair,
  pull,
  pullAll,
  startTestServer,
  type TestServer,
} from '../helpers/sync-app.js';

// The first-sync bench fails a run whose counts differ from the edited vault's
// expectations; this keeps those expectations in step with the server's pull.

const SHAPE: VaultShape = {
  ...QUICK_VAULT,
  ops: 2_000,
  folders: 3,
  notes: 50,
  deletes: 33,
  recreates: 30,
};

let server: TestServer;
beforeEach(async () => {
  server = await startTestServer({ databaseFile: ':memory:' });
  await addUser(server, 'alice');
});
afterEach(async () => server.close());

describe('the edited vault on the server', () => {
  it('gives a first sync its live paths and a device past it the ops not superseded', async () => {
    const { ops, expected } = editedVault(SHAPE);
    const writers = [];
    for (let i = 0; i < SHAPE.devices; i++)
      writers.push(await pair(server, 'alice', 'v', `writer-${i}`));
    const early = await pair(server, 'alice', 'v', 'early');
    expect((await pull(server, early, 0)).json()).toMatchObject({ ops: [], has_more: false });
    for (const batch of pushBatches(ops, SHAPE)) {
      const res = await call(server, writers[batch.device], {
        method: 'POST',
        url: '/api/v1/sync/push',
        headers: { 'content-type': 'application/json' },
        payload: batch.body,
      });
      expect(res.statusCode, res.body).toBe(200);
    }

    const fresh = await pair(server, 'alice', 'v', 'fresh');
    const first = await pullAll(server, fresh);
    expect(first.ops).toHaveLength(expected.state.size);
    expect(differenceFrom(expected, first.ops)).toBeUndefined();

    const history = await pullAll(server, early);
    expect(history.ops).toHaveLength(expected.kept);
    expect(differenceFrom(expected, history.ops)).toBeUndefined();
  });
});
