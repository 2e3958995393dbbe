import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  canonicalTree,
  movePath,
  removePath,
  treeView,
  writeFile,
  makeFolder,
  type RemoteOp,
} from '../helpers/desktop-sim.js';
import {
  createDesktop,
  pullLoop,
  pushPending,
  recordMove,
  scanAndPull,
  syncNow,
  type Desktop,
  type PullPage,
  type PushAnswer,
  type SyncTransport,
} from '../helpers/desktop-sync.js';
import { addUser, pair, startTestServer, type TestServer } from '../helpers/sync-app.js';

// The desktop's sync cycle (test/helpers/desktop-sync.ts, from its source) against the
// server over a real socket, on a real SQLite file: what a user sees when adding a device.

let server: TestServer;
let base: string;
beforeEach(async () => {
  server = await startTestServer();
  await addUser(server, 'alice');
  base = await server.app.listen({ port: 0, host: '127.0.0.1' });
});
afterEach(async () => server.close());

/** The desktop's HTTP client: JSON over fetch, Bearer token, no page_limit. */
function httpTransport(token: string): SyncTransport {
  const post = async <T>(path: string, body: object): Promise<T> => {
    const res = await fetch(`${base}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const text = await res.text();
    if (res.status !== 200) throw new Error(`${path}: ${res.status} ${text}`);
    return JSON.parse(text) as T;
  };
  return {
    pull: (since) => post<PullPage>('/api/v1/sync/pull', { since_sequence: since }),
    push: (body) => post<PushAnswer>('/api/v1/sync/push', body),
  };
}

async function desktop(name: string): Promise<Desktop> {
  const device = await pair(server, 'alice', 'notes-vault', name);
  return createDesktop({ name, deviceId: device.deviceId, transport: httpTransport(device.token) });
}

/** Every op the vault's log holds, in order: what "the vault" is. */
function log(): RemoteOp[] {
  const [stream] = server.runtime.db
    .prepare("SELECT DISTINCT stream FROM events WHERE stream LIKE 'vault/%'")
    .pluck()
    .all() as string[];
  return server.runtime.store
    .readStream(stream!)
    .flatMap((e) =>
      e.type === 'OperationPushed' ? [{ ...e.data.op, server_sequence: e.seq }] : [],
    );
}

describe('a vault with a history', () => {
  it('restores onto a new device in one sync, as the tree its other device holds', async () => {
    const laptop = await desktop('laptop');
    await syncNow(laptop);
    const t = laptop.tree;
    makeFolder(t, 'Projects');
    writeFile(t, 'Projects/plan.md', '# Plan\n');
    writeFile(t, 'inbox.md', 'first');
    writeFile(t, 'draft.md', 'a draft');
    writeFile(t, 'Archive/old.md', 'old');
    await syncNow(laptop);
    writeFile(t, 'inbox.md', 'second');
    writeFile(t, 'Projects/plan.md', '# Plan\n- ship\n');
    removePath(t, 'draft.md');
    // A rename as the scanner sees it: the old path gone, the new one created.
    movePath(t, 'Archive/old.md', 'Archive/older.md');
    await syncNow(laptop);
    recordMove(laptop, 'file', 'inbox.md', 'Projects/inbox.md');
    writeFile(t, 'draft.md', 'a new draft at the old path');
    removePath(t, 'Archive');
    writeFile(t, 'Projects/plan.md', '# Plan\n- ship\n- rest\n');
    await syncNow(laptop);
    expect(laptop.pending).toEqual([]);

    const newLaptop = await desktop('new laptop');
    const first = await syncNow(newLaptop);
    expect(treeView(newLaptop.tree)).toEqual(treeView(laptop.tree));
    expect(treeView(newLaptop.tree)).toEqual(treeView(canonicalTree(log())));
    // Four paths (a folder, three notes) instead of the log's history.
    expect(first.pulled).toBe(4);
    expect(log().length).toBeGreaterThan(10);
    expect((await syncNow(newLaptop)).pulled).toBe(0);
  });
});

describe('two devices that edit one note between syncs', () => {
  it('converge on the edit the server ordered last, and the later pusher hears of the conflict', async () => {
    const laptop = await desktop('laptop');
    const desk = await desktop('desk');
    writeFile(laptop.tree, 'note.md', 'shared text');
    await syncNow(laptop);
    await syncNow(desk);
    expect(desk.tree.files.get('note.md')).toBe('shared text');

    writeFile(laptop.tree, 'note.md', 'laptop’s edit');
    writeFile(desk.tree, 'note.md', 'desk’s edit');
    // Both sync at the same time: both pull first, then the laptop's push lands first.
    await scanAndPull(laptop);
    await scanAndPull(desk);
    const laptopPush = await pushPending(laptop);
    const deskPush = await pushPending(desk);
    await pullLoop(laptop, false);
    await pullLoop(desk, false);

    expect(laptopPush.conflicts).toEqual([]);
    const laptopOp = log().find(
      (op) => op.device_id === laptop.deviceId && op.op_type === 'update',
    )!;
    expect(deskPush.conflicts).toEqual([
      {
        op_id: laptopOp.op_id,
        device_id: laptop.deviceId,
        op_type: 'update',
        server_sequence: laptopOp.server_sequence,
        entity_type: 'file',
        entity_id: 'note.md',
      },
    ]);
    for (const d of [laptop, desk]) {
      await syncNow(d);
      await syncNow(d);
    }
    expect(laptop.tree.files.get('note.md')).toBe('desk’s edit');
    expect(treeView(desk.tree)).toEqual(treeView(laptop.tree));
    expect(treeView(laptop.tree)).toEqual(treeView(canonicalTree(log())));
  });
});
