import { describe, expect, it } from 'vitest';
import {
  applyRemoteOp,
  canonicalTree,
  emptyTree,
  makeFolder,
  RefusalError,
  RULES,
  sha256,
  treeView,
  writeFile,
  type DesktopState,
  type LocalOp,
  type RemoteOp,
} from '../helpers/desktop-sim.js';
import {
  createDesktop,
  PullProtocolError,
  pullLoop,
  recordMove,
  scan,
  syncNow,
  type Desktop,
  type PullPage,
  type SyncTransport,
} from '../helpers/desktop-sync.js';

// The simulator's rules, one by one, as the desktop's Go source states them (see
// test/helpers/desktop-sim.ts): a property test is only as good as this model.

const OWN = 'dev-own';
const OTHER = 'dev-other';

let seq = 0;
const remote = (
  entityType: string,
  opType: string,
  entityId: string,
  payload: object = {},
  extra: Partial<RemoteOp> = {},
): RemoteOp => ({
  op_id: `op-${++seq}`,
  server_sequence: seq,
  device_id: OTHER,
  entity_type: entityType,
  entity_id: entityId,
  op_type: opType,
  payload_json: JSON.stringify(payload),
  created_at: '2026-11-26T10:00:00Z',
  ...extra,
});
const file = (opType: string, path: string, content?: string) =>
  remote('file', opType, path, content === undefined ? { path } : { path, content });
const move = (entityType: 'file' | 'folder', from: string, to: string) =>
  remote(entityType, 'move', from, { fromPath: from, toPath: to });

function state(
  files: Record<string, string> = {},
  folders: string[] = [],
  pending: LocalOp[] = [],
): DesktopState {
  const tree = emptyTree();
  for (const d of folders) makeFolder(tree, d);
  for (const [p, c] of Object.entries(files)) writeFile(tree, p, c);
  return { deviceId: OWN, tree, pending, others: [] };
}
const pendingOn = (path: string, opType = 'update'): LocalOp => ({
  op_id: 'local-1',
  entity_type: 'file',
  entity_id: path,
  op_type: opType,
  payload_json: JSON.stringify({ path }),
  created_at: '',
});

const fixedPages = (pages: PullPage[]): SyncTransport => ({
  async pull() {
    const page = pages.shift();
    if (!page) throw new Error('no more pages');
    return page;
  },
  async push() {
    throw new Error('not used');
  },
});
const desktop = (transport: SyncTransport): Desktop =>
  createDesktop({ name: 'A', deviceId: OWN, transport });

function refusal(run: () => void): string {
  try {
    run();
  } catch (err) {
    if (err instanceof RefusalError) return err.rule;
    throw err;
  }
  throw new Error('expected a refusal');
}

describe('the snapshot scan', () => {
  it('orders creates shallowest first (folders first) and deletes deepest first (files first)', () => {
    const d = desktop(fixedPages([]));
    writeFile(d.tree, 'a/b/x.md', 'x');
    writeFile(d.tree, 'a/y.md', 'y');
    scan(d);
    d.pending = [];
    d.tree.files.clear();
    d.tree.folders.clear();
    writeFile(d.tree, 'c/d/w.md', 'w');
    writeFile(d.tree, 'c/v.md', 'v');
    writeFile(d.tree, 'top.md', 't');
    const ops = scan(d).map((op) => `${op.op_type} ${op.entity_type} ${op.entity_id}`);
    expect(ops).toEqual([
      'create folder c',
      'create file top.md',
      'create folder c/d',
      'create file c/v.md',
      'create file c/d/w.md',
      'delete file a/b/x.md',
      'delete file a/y.md',
      'delete folder a/b',
      'delete folder a',
    ]);
  });

  it('writes the desktop payloads, an edit as an update, a rename as delete and create', () => {
    const d = desktop(fixedPages([]));
    writeFile(d.tree, 'f/n.md', 'one');
    expect(scan(d).map((op) => JSON.parse(op.payload_json))).toEqual([
      { path: 'f', contentHash: '' },
      { path: 'f/n.md', contentHash: sha256('one'), content: 'one' },
    ]);
    d.tree.files.set('f/n.md', 'two');
    expect(scan(d).map((op) => op.op_type)).toEqual(['update']);
    d.tree.files.delete('f/n.md');
    writeFile(d.tree, 'f/m.md', 'two');
    const renamed = scan(d);
    expect(renamed.map((op) => [op.op_type, op.entity_id, JSON.parse(op.payload_json)])).toEqual([
      ['create', 'f/m.md', { path: 'f/m.md', contentHash: sha256('two'), content: 'two' }],
      ['delete', 'f/n.md', { path: 'f/n.md' }],
    ]);
    expect(scan(d)).toEqual([]);
  });

  it('records an app move as one move op after the edits made before it', () => {
    const d = desktop(fixedPages([]));
    writeFile(d.tree, 'a/n.md', 'one');
    recordMove(d, 'folder', 'a', 'b');
    expect(
      d.pending.map((op) => [op.op_type, op.entity_type, op.entity_id, op.payload_json]),
    ).toEqual([
      ['create', 'folder', 'a', JSON.stringify({ path: 'a', contentHash: '' })],
      ['create', 'file', 'a/n.md', expect.any(String)],
      ['move', 'folder', 'a', JSON.stringify({ fromPath: 'a', toPath: 'b' })],
    ]);
    expect(treeView(d.tree)).toEqual({ files: [['b/n.md', 'one']], folders: ['b'] });
    expect(scan(d)).toEqual([]);
  });
});

describe('applying a pulled op', () => {
  it('skips the device’s own ops', () => {
    const s = state({ 'n.md': 'mine' });
    applyRemoteOp(s, { ...file('update', 'n.md', 'theirs'), device_id: OWN }, true);
    expect(s.tree.files.get('n.md')).toBe('mine');
  });

  it('file create: same content is done, other content or a folder is refused, else written with parents', () => {
    const s = state({ 'n.md': 'x' }, ['d']);
    applyRemoteOp(s, file('create', 'n.md', 'x'), true);
    expect(refusal(() => applyRemoteOp(s, file('create', 'n.md', 'y'), false))).toBe(
      RULES.createReplaces,
    );
    expect(refusal(() => applyRemoteOp(s, file('create', 'd', 'y'), false))).toBe(
      RULES.createReplaces,
    );
    applyRemoteOp(s, file('create', 'p/q/m.md', 'z'), true);
    expect(treeView(s.tree).folders).toEqual(['d', 'p', 'p/q']);
  });

  it('file update: refused over an existing file in a first sync and over unpushed local paths', () => {
    expect(
      refusal(() => applyRemoteOp(state({ 'n.md': 'x' }), file('update', 'n.md', 'y'), true)),
    ).toBe(RULES.initialReplaces);
    const same = state({ 'n.md': 'y' });
    applyRemoteOp(same, file('update', 'n.md', 'y'), true);
    const pending = state({ 'n.md': 'x' }, [], [pendingOn('n.md')]);
    expect(refusal(() => applyRemoteOp(pending, file('update', 'n.md', 'y'), false))).toBe(
      RULES.updatePending,
    );
    const moved = state(
      {},
      [],
      [{ ...pendingOn('a.md', 'move'), payload_json: '{"fromPath":"a.md","toPath":"n.md"}' }],
    );
    expect(refusal(() => applyRemoteOp(moved, file('update', 'n.md', 'y'), false))).toBe(
      RULES.updatePending,
    );
    const missing = state({}, [], [pendingOn('other.md')]);
    applyRemoteOp(missing, file('update', 'n.md', 'y'), true);
    expect(missing.tree.files.get('n.md')).toBe('y');
  });

  it('file delete: refused over an existing path in a first sync and over unpushed local paths', () => {
    expect(refusal(() => applyRemoteOp(state({ 'n.md': 'x' }), file('delete', 'n.md'), true))).toBe(
      RULES.initialDeletes,
    );
    const pending = state({ 'n.md': 'x' }, [], [pendingOn('n.md')]);
    expect(refusal(() => applyRemoteOp(pending, file('delete', 'n.md'), false))).toBe(
      RULES.deletePending,
    );
    const missing = state();
    applyRemoteOp(missing, file('delete', 'n.md'), true);
    const folder = state({ 'd/n.md': 'x', 'k.md': 'k' });
    applyRemoteOp(folder, file('delete', 'd'), false);
    expect(treeView(folder.tree)).toEqual({ files: [['k.md', 'k']], folders: [] });
  });

  it('file move: needs both ends, refuses in a first sync, over pending paths and onto an existing target', () => {
    expect(
      refusal(() =>
        applyRemoteOp(state({ 'a.md': 'x' }), remote('file', 'move', 'a.md', {}), false),
      ),
    ).toBe(RULES.movePathMissing);
    expect(
      refusal(() => applyRemoteOp(state({ 'a.md': 'x' }), move('file', 'a.md', 'b.md'), true)),
    ).toBe(RULES.initialMoves);
    expect(
      refusal(() => applyRemoteOp(state({ 'b.md': 'x' }), move('file', 'a.md', 'b.md'), true)),
    ).toBe(RULES.initialMoves);
    const pending = state({ 'a.md': 'x' }, [], [pendingOn('a.md')]);
    expect(refusal(() => applyRemoteOp(pending, move('file', 'a.md', 'b.md'), false))).toBe(
      RULES.movePending,
    );
    const taken = state({ 'a.md': 'x', 'b.md': 'y' });
    expect(refusal(() => applyRemoteOp(taken, move('file', 'a.md', 'b.md'), false))).toBe(
      RULES.moveTargetExists,
    );
    const gone = state({ 'b.md': 'y' });
    applyRemoteOp(gone, move('file', 'a.md', 'b.md'), false);
    expect(gone.tree.files.get('b.md')).toBe('y');
    const s = state({ 'a.md': 'x' });
    applyRemoteOp(s, remote('file', 'move', 'a.md', { toPath: 'd/b.md' }), false);
    expect(treeView(s.tree)).toEqual({ files: [['d/b.md', 'x']], folders: ['d'] });
  });

  it('folder ops: create is idempotent, delete refuses only in a first sync, move has no pending check', () => {
    const s = state({ 'd/n.md': 'x' }, [], [pendingOn('d/n.md')]);
    applyRemoteOp(s, remote('folder', 'create', 'd', { path: 'd', contentHash: '' }), true);
    expect(
      refusal(() => applyRemoteOp(s, remote('folder', 'delete', 'd', { path: 'd' }), true)),
    ).toBe(RULES.initialDeletesFolder);
    applyRemoteOp(s, move('folder', 'd', 'e/f'), false);
    expect(treeView(s.tree)).toEqual({ files: [['e/f/n.md', 'x']], folders: ['e', 'e/f'] });
    applyRemoteOp(s, remote('folder', 'delete', 'e', { path: 'e' }), false);
    expect(treeView(s.tree)).toEqual({ files: [], folders: [] });
  });

  it('keeps ops of other entity types and unknown op types for the other services', () => {
    const s = state();
    const ops = [
      remote('plugin-record', 'update', 'r'),
      remote('workspace', 'create', 'w'),
      remote('file', 'trash', 'n.md'),
    ];
    for (const op of ops) applyRemoteOp(s, op, true);
    expect(s.others).toEqual(ops);
  });
});

describe('the canonical tree', () => {
  it('applies every op without guards; a move onto an existing path or from a missing one does nothing', () => {
    const t = canonicalTree([
      file('create', 'a.md', 'one'),
      file('create', 'a.md', 'two'),
      file('update', 'b.md', 'b'),
      move('file', 'a.md', 'b.md'),
      move('file', 'x.md', 'y.md'),
      remote('folder', 'create', 'd', { path: 'd' }),
      move('file', 'b.md', 'd/b.md'),
      { ...file('delete', 'a.md'), device_id: OWN },
    ]);
    expect(treeView(t)).toEqual({ files: [['d/b.md', 'b']], folders: ['d'] });
  });
});

// ---- the sync cycle over an in-memory log ----

function memoryServer() {
  const log: RemoteOp[] = [];
  const transport = (deviceId: string, pageLimit = 100, accept = (_op: LocalOp) => true) => {
    const t: SyncTransport & { pushes: LocalOp[][] } = {
      pushes: [],
      async pull(since) {
        const after = log.filter((op) => op.server_sequence > since);
        const ops = after.slice(0, pageLimit);
        return {
          server_sequence: log.at(-1)?.server_sequence ?? 0,
          page_last_sequence: ops.at(-1)?.server_sequence ?? since,
          has_more: after.length > pageLimit,
          ops,
        };
      },
      async push(body) {
        t.pushes.push(body.ops);
        const accepted = body.ops.filter(accept);
        // Gapped, as the server's global sequence is.
        for (const op of accepted) {
          log.push({
            ...op,
            server_sequence: (log.at(-1)?.server_sequence ?? 0) + 2,
            device_id: deviceId,
          });
        }
        return { accepted: accepted.map((op) => op.op_id), count: accepted.length, conflicts: [] };
      },
    };
    return t;
  };
  return { log, transport };
}

describe('the pull loop', () => {
  it('counts and steps over its own ops, and skips ops at or below the cursor', async () => {
    const own = { ...file('create', 'mine.md', 'm'), device_id: OWN };
    const other = file('create', 'theirs.md', 't');
    const d = desktop(
      fixedPages([
        {
          server_sequence: 0,
          page_last_sequence: other.server_sequence,
          has_more: false,
          ops: [own, own, other],
        },
      ]),
    );
    expect(await pullLoop(d, true)).toBe(2);
    expect([d.cursor, treeView(d.tree).files]).toEqual([
      other.server_sequence,
      [['theirs.md', 't']],
    ]);
  });

  it('refuses a page whose page_last_sequence is not its last op, or the cursor when it is empty', async () => {
    const op = file('create', 'n.md', 'n');
    const mismatch = desktop(
      fixedPages([
        {
          server_sequence: 0,
          page_last_sequence: op.server_sequence + 1,
          has_more: false,
          ops: [op],
        },
      ]),
    );
    await expect(pullLoop(mismatch, false)).rejects.toThrow(PullProtocolError);
    const empty = desktop(
      fixedPages([{ server_sequence: 0, page_last_sequence: 7, has_more: false, ops: [] }]),
    );
    await expect(pullLoop(empty, false)).rejects.toThrow(/cursor mismatch/);
  });

  it('refuses has_more without progress', async () => {
    const d = desktop(
      fixedPages([{ server_sequence: 9, page_last_sequence: 0, has_more: true, ops: [] }]),
    );
    await expect(pullLoop(d, false)).rejects.toThrow(/without advancing/);
  });

  it('leaves the ops applied before a refusal in place, with the cursor on the last of them', async () => {
    const first = file('create', 'a.md', 'a');
    const refused = file('create', 'b.md', 'theirs');
    const d = desktop(
      fixedPages([
        {
          server_sequence: 0,
          page_last_sequence: refused.server_sequence,
          has_more: false,
          ops: [first, refused],
        },
      ]),
    );
    writeFile(d.tree, 'b.md', 'mine');
    await expect(pullLoop(d, false)).rejects.toThrow(RULES.createReplaces);
    expect([d.cursor, d.tree.files.get('a.md')]).toEqual([first.server_sequence, 'a']);
  });
});

describe('syncNow', () => {
  it('pushes pending ops in batches of 100 with last_seen = cursor; only accepted ones stop being pending', async () => {
    const server = memoryServer();
    server.log.push(file('create', 'seen.md', 's'));
    const transport = server.transport(OWN, 100, (op) => op.entity_id !== 'f/n007.md');
    const d = desktop(transport);
    for (let i = 0; i < 150; i++) writeFile(d.tree, `f/n${String(i).padStart(3, '0')}.md`, `${i}`);
    const result = await syncNow(d);
    expect(transport.pushes.map((b) => b.length)).toEqual([100, 51]);
    expect(new Set(transport.pushes.flat().map((op) => op.last_seen_server_seq))).toEqual(
      new Set([server.log[0]!.server_sequence]),
    );
    expect(d.pending.map((op) => op.entity_id)).toEqual(['f/n007.md']);
    // Its own ops come back on the second pull and count as pulled.
    expect(result).toMatchObject({ pushed: 150, pulled: 151 });
    expect(d.cursor).toBe(server.log.at(-1)!.server_sequence);
  });

  it('resumes an interrupted first sync from the saved cursor, still as the initial reconciliation', async () => {
    const server = memoryServer();
    server.log.push(file('create', 'n.md', 'one'), file('update', 'n.md', 'two'));
    const inner = server.transport(OWN, 1);
    let pages = 0;
    const d = desktop({
      ...inner,
      async pull(since) {
        if (++pages === 2) throw new Error('connection lost');
        return inner.pull(since);
      },
    });
    await expect(syncNow(d)).rejects.toThrow('connection lost');
    expect([d.cursor, d.bootstrapComplete]).toEqual([server.log[0]!.server_sequence, false]);
    await expect(syncNow(d)).rejects.toThrow(RULES.initialReplaces);
  });
});
