import { afterEach, describe, expect, it } from 'vitest';
import {
  addUser,
  pair,
  pull,
  pushAccepted,
  startTestServer,
  textOp,
  type PullPage,
  type TestServer,
} from '../helpers/sync-app.js';

// A damaged page of the log's (stream, seq) index can hide a vault's row from every read
// that goes through it, without any error from SQLite (sync-damaged-pages covers the
// table's pages). A hidden row is played here by deleting it: the vault's projection still
// knows the op, the stream no longer shows it. A pull never answers as if the vault had
// no such op: a plain page stops before it and the next is refused, a first sync is refused.

let server: TestServer | undefined;

afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function vaultWithFiveOps() {
  server = await startTestServer();
  await addUser(server, 'alice');
  const writer = await pair(server, 'alice', 'notes');
  const reader = await pair(server, 'alice', 'notes');
  expect((await pull(server, reader, 0)).json<PullPage>().ops).toEqual([]);
  const newcomer = await pair(server, 'alice', 'notes');
  await pushAccepted(
    server,
    writer,
    [1, 2, 3, 4, 5].map((n) => textOp(`op-${n}`, `notes/n${n}.md`, `note ${n}`)),
  );
  const db = server.runtime.db;
  const seqOf = (opId: string) =>
    db.prepare('SELECT seq FROM vault_ops WHERE op_id = ?').pluck().get(opId) as number;
  const hide = (opId: string) =>
    db.prepare('DELETE FROM log_events WHERE seq = ?').run(seqOf(opId));
  return { server, reader, newcomer, seqOf, hide };
}

const refused = (res: { statusCode: number; json: <T>() => T }) => [
  res.statusCode,
  res.json<{ code: string }>().code,
];

describe('a row the stream no longer shows', () => {
  it('ends a page before it and refuses the next, and refuses a first sync', async () => {
    const { server, reader, newcomer, seqOf, hide } = await vaultWithFiveOps();
    hide('op-3');
    const page = (await pull(server, reader, 0)).json<PullPage>();
    expect(page.ops.map((op) => op.op_id)).toEqual(['op-1', 'op-2']);
    expect(page.has_more).toBe(true);
    expect(refused(await pull(server, reader, seqOf('op-2')))).toEqual([500, 'log_damaged']);
    expect(refused(await pull(server, newcomer, 0))).toEqual([500, 'log_damaged']);
  });

  it("refuses the page where the stream ends before the vault's newest op", async () => {
    const { server, reader, newcomer, seqOf, hide } = await vaultWithFiveOps();
    hide('op-5');
    const page = (await pull(server, reader, 0)).json<PullPage>();
    expect(page.ops.map((op) => op.op_id)).toEqual(['op-1', 'op-2', 'op-3', 'op-4']);
    expect(page.has_more).toBe(true);
    expect(refused(await pull(server, reader, seqOf('op-4')))).toEqual([500, 'log_damaged']);
    expect(refused(await pull(server, newcomer, 0))).toEqual([500, 'log_damaged']);
  });
});
