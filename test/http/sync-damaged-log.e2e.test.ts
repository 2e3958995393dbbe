import {
  closeSync,
  copyFileSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import {
  addUser,
  pair,
  pull,
  pullAll,
  push,
  pushAccepted,
  startTestServer,
  textOp,
  type Device,
  type PullPage,
  type TestServer,
} from '../helpers/sync-app.js';

// Issue 12: a damaged event never reaches a device as a valid op. A server checks each op
// against the digest its chain covers the first time it serves it; the pages before it are
// served, the page that would start with it is refused with a clear code, the rest syncs on.

let servers: TestServer[] = [];
let dirs: string[] = [];
afterEach(async () => {
  for (const server of servers) await server.close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  servers = [];
  dirs = [];
});

const contentOf = (n: number) => `note ${n} unique-content-${String(n).padStart(4, '0')}`;

/** A vault of five ops and a second vault of the same user, and a device past its first sync. */
async function vaultOfFive(server: TestServer) {
  await addUser(server, 'alice');
  const writer = await pair(server, 'alice', 'notes');
  const reader = await pair(server, 'alice', 'notes');
  // Its first sync is over on the empty vault: later pulls take the ordinary feed.
  expect((await pull(server, reader, 0)).json<PullPage>().ops).toEqual([]);
  const ops = [1, 2, 3, 4, 5].map((n) => textOp(`op-${n}`, `n${n}.md`, contentOf(n)));
  await pushAccepted(server, writer, ops);
  const other = await pair(server, 'alice', 'other');
  await pushAccepted(server, other, [textOp('other-1', 'o.md', 'fine')]);
  // Read from the projection, not pulled: a pull checks the ops it serves once per process.
  const seqs = server.runtime.db
    .prepare("SELECT seq FROM vault_ops WHERE op_id LIKE 'op-%' ORDER BY seq")
    .pluck()
    .all() as number[];
  expect(seqs).toHaveLength(5);
  return { writer, reader, other, seqs };
}

async function expectServedAroundDamage(
  server: TestServer,
  devices: { reader: Device; writer: Device; other: Device },
  seqs: number[],
) {
  const { reader, writer, other } = devices;
  const first = await pull(server, reader, 0);
  expect(first.statusCode).toBe(200);
  const page = first.json<PullPage>();
  expect(page.ops.map((op) => op.op_id)).toEqual(['op-1', 'op-2']);
  expect(page).toMatchObject({ has_more: true, page_last_sequence: seqs[1] });

  const refused = await pull(server, reader, seqs[1]!);
  expect(refused.statusCode).toBe(500);
  expect(refused.json()).toEqual({
    error: 'internal error: stored data is damaged',
    code: 'log_damaged',
  });
  expect(refused.body).not.toContain('unique-content');

  // Past the damaged op, and in the user's other vault, sync goes on.
  const rest = (await pull(server, reader, seqs[2]!)).json<PullPage>();
  expect(rest.ops.map((op) => op.op_id)).toEqual(['op-4', 'op-5']);
  await pushAccepted(server, writer, [textOp('op-6', 'n6.md', 'after')]);
  expect((await pullAll(server, other)).ops.map((op) => op.op_id)).toEqual(['other-1']);

  // A new device's first sync would carry the damaged op: refused too, never garbled.
  const fresh = await pair(server, 'alice', 'notes');
  const firstSync = await pull(server, fresh, 0);
  expect([firstSync.statusCode, firstSync.json().code]).toEqual([500, 'log_damaged']);
}

describe('a damaged event in the log', () => {
  it('is not served: the page stops before it, the next is refused, the rest syncs', async () => {
    const server = await startTestServer();
    servers.push(server);
    const { writer, reader, other, seqs } = await vaultOfFive(server);
    // Data changed under its digest: what a flipped byte inside a row does.
    server.runtime.db
      .prepare("UPDATE log_events SET data = replace(data, 'unique', 'UNIQUE') WHERE seq = ?")
      .run(seqs[2]);
    await expectServedAroundDamage(server, { reader, writer, other }, seqs);
  });

  it("is found where SQLite's checks see nothing: bytes damaged inside a data page", async () => {
    const origin = await startTestServer();
    servers.push(origin);
    const { writer, reader, other, seqs } = await vaultOfFive(origin);
    origin.runtime.db.pragma('wal_checkpoint(TRUNCATE)');
    const dir = mkdtempSync(join(tmpdir(), 'vss-damaged-'));
    dirs.push(dir);
    const copy = join(dir, 'server.db');
    copyFileSync(join(origin.dir, 'server.db'), copy);
    // Overwrite the third op's content bytes in the file itself, keeping the record's shape.
    const bytes = readFileSync(copy);
    const at = bytes.indexOf(contentOf(3));
    expect(at).toBeGreaterThan(0);
    expect(bytes.indexOf(contentOf(3), at + 1)).toBe(-1);
    const fd = openSync(copy, 'r+');
    writeSync(fd, Buffer.from(contentOf(3).toUpperCase()), 0, contentOf(3).length, at);
    closeSync(fd);
    const check = new Database(copy, { readonly: true });
    expect(check.pragma('quick_check', { simple: true })).toBe('ok');
    check.close();

    const server = await startTestServer({ seedDatabase: copy });
    servers.push(server);
    await expectServedAroundDamage(server, { reader, writer, other }, seqs);
  });

  it('leaves pushes of other ops alone and refuses a duplicate of the damaged one', async () => {
    const server = await startTestServer();
    servers.push(server);
    const { writer, seqs } = await vaultOfFive(server);
    server.runtime.db
      .prepare("UPDATE log_events SET data = replace(data, 'unique', 'UNIQUE') WHERE seq = ?")
      .run(seqs[2]);
    // The duplicate's stored content cannot be compared with a damaged one.
    const again = await push(server, writer, [textOp('op-3', 'n3.md', contentOf(3))]);
    expect([again.statusCode, again.json().code]).toEqual([500, 'log_damaged']);
    const fine = await push(server, writer, [textOp('op-7', 'n7.md', 'new')]);
    expect(fine.statusCode).toBe(200);
  });
});
