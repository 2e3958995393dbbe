import { createHash } from 'node:crypto';

/**
 * A model of one Verstak desktop vault and of how the desktop applies pulled ops, restated
 * from its Go source (mirivlad/verstak internal/api/app_sync.go applyRemote*Op and
 * internal/core/sync snapshot.go). Only the rules listed there are modelled: a property test
 * that fails against this model must fail for a reason the real desktop has too.
 */

export interface Tree {
  readonly files: Map<string, string>;
  readonly folders: Set<string>;
}

/** An op as the desktop records and pushes it. */
export interface LocalOp {
  op_id: string;
  entity_type: string;
  entity_id: string;
  op_type: string;
  payload_json: string;
  created_at: string;
  last_seen_server_seq?: number;
}

/** An op as a pull page carries it. */
export interface RemoteOp {
  op_id: string;
  server_sequence: number;
  device_id: string;
  entity_type: string;
  entity_id: string;
  op_type: string;
  payload_json: string;
  created_at: string;
}

/** What applying a pulled op may read and change. */
export interface DesktopState {
  readonly deviceId: string;
  tree: Tree;
  pending: LocalOp[];
  /** Ops of entity types the file model does not cover, in the order they were applied. */
  readonly others: RemoteOp[];
}

/** The desktop's wording, so that a failing property names the Go rule that refused. */
export const RULES = {
  createReplaces: 'remote create would replace local file',
  initialReplaces: 'initial reconciliation would replace local file',
  updatePending: 'remote update would replace unpushed local file',
  initialDeletes: 'initial reconciliation would delete local file',
  deletePending: 'remote delete would remove unpushed local file',
  movePathMissing: 'missing move path',
  initialMoves: 'initial reconciliation would move local path',
  movePending: 'remote move would replace unpushed local file',
  moveTargetExists: 'move target exists',
  initialDeletesFolder: 'initial reconciliation would delete local folder',
} as const;

export class RefusalError extends Error {
  constructor(
    readonly rule: string,
    readonly path: string,
  ) {
    super(`conflict: ${rule} ${path}`);
    this.name = 'RefusalError';
  }
}

export const emptyTree = (): Tree => ({ files: new Map(), folders: new Set() });
export const cloneTree = (t: Tree): Tree => ({
  files: new Map(t.files),
  folders: new Set(t.folders),
});

/** A plain, sorted view of a tree, for toEqual with a readable diff. */
export const treeView = (t: Tree) => ({
  files: [...t.files].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
  folders: [...t.folders].sort(),
});

export const exists = (t: Tree, path: string) => t.files.has(path) || t.folders.has(path);
export const depth = (path: string) => path.split('/').length;
export const isUnder = (root: string, path: string) => path === root || path.startsWith(`${root}/`);
export const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

function ancestorsOf(path: string): string[] {
  const parts = path.split('/');
  return parts.slice(1).map((_, i) => parts.slice(0, i + 1).join('/'));
}

/** Parents appear as a real filesystem write (MkdirAll) makes them. */
function makeParents(t: Tree, path: string) {
  for (const dir of ancestorsOf(path)) {
    if (t.files.has(dir)) throw new Error(`not a directory: ${dir}`);
    t.folders.add(dir);
  }
}

export function writeFile(t: Tree, path: string, content: string) {
  if (t.folders.has(path)) throw new Error(`is a directory: ${path}`);
  makeParents(t, path);
  t.files.set(path, content);
}

export function makeFolder(t: Tree, path: string) {
  if (t.files.has(path)) throw new Error(`not a directory: ${path}`);
  makeParents(t, path);
  t.folders.add(path);
}

export function removePath(t: Tree, path: string) {
  for (const f of [...t.files.keys()]) if (isUnder(path, f)) t.files.delete(f);
  for (const d of [...t.folders]) if (isUnder(path, d)) t.folders.delete(d);
}

export function movePath(t: Tree, from: string, to: string) {
  if (isUnder(from, to)) throw new Error(`cannot move ${from} into itself`);
  const rebase = (p: string) => to + p.slice(from.length);
  const files = [...t.files].filter(([p]) => isUnder(from, p));
  const folders = [...t.folders].filter((p) => isUnder(from, p));
  removePath(t, from);
  makeParents(t, to);
  for (const d of folders) t.folders.add(rebase(d));
  for (const [p, c] of files) t.files.set(rebase(p), c);
}

type Payload = Record<string, unknown>;

export function payloadOf(payloadJson: string): Payload {
  if (payloadJson === '') return {};
  const parsed: unknown = JSON.parse(payloadJson);
  return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
    ? (parsed as Payload)
    : {};
}

const text = (p: Payload, key: string) => (typeof p[key] === 'string' ? p[key] : '');

/** The paths an unpushed op holds on to (the desktop's HasUnpushedPath). */
export function pendingPaths(op: LocalOp): string[] {
  const p = payloadOf(op.payload_json);
  const paths = [text(p, 'path') || op.entity_id];
  if (op.op_type === 'move') paths.push(text(p, 'fromPath'), text(p, 'toPath'));
  return paths.filter((x) => x !== '');
}

const isPending = (s: DesktopState, path: string) =>
  s.pending.some((op) => pendingPaths(op).includes(path));

function moveEnds(op: RemoteOp, p: Payload) {
  const from = text(p, 'fromPath') || op.entity_id;
  const to = text(p, 'toPath');
  if (!from || !to) throw new RefusalError(RULES.movePathMissing, from || op.entity_id);
  return { from, to };
}

function applyFileOp(s: DesktopState, op: RemoteOp, p: Payload, initial: boolean) {
  const t = s.tree;
  const path = text(p, 'path') || op.entity_id;
  const content = text(p, 'content');
  switch (op.op_type) {
    case 'create':
      if (t.files.get(path) === content) return;
      if (exists(t, path)) throw new RefusalError(RULES.createReplaces, path);
      return writeFile(t, path, content);
    case 'update':
      if (t.files.get(path) === content) return;
      if (initial && exists(t, path)) throw new RefusalError(RULES.initialReplaces, path);
      if (isPending(s, path)) throw new RefusalError(RULES.updatePending, path);
      return writeFile(t, path, content);
    case 'delete':
      if (initial && exists(t, path)) throw new RefusalError(RULES.initialDeletes, path);
      if (isPending(s, path)) throw new RefusalError(RULES.deletePending, path);
      return removePath(t, path);
    case 'move': {
      const { from, to } = moveEnds(op, p);
      if (initial && (exists(t, from) || exists(t, to)))
        throw new RefusalError(RULES.initialMoves, from);
      if (isPending(s, from)) throw new RefusalError(RULES.movePending, from);
      return relocate(t, from, to);
    }
    default:
      s.others.push(op);
  }
}

function applyFolderOp(s: DesktopState, op: RemoteOp, p: Payload, initial: boolean) {
  const t = s.tree;
  const path = text(p, 'path') || op.entity_id;
  switch (op.op_type) {
    case 'create':
      return makeFolder(t, path);
    case 'delete':
      if (initial && exists(t, path)) throw new RefusalError(RULES.initialDeletesFolder, path);
      return removePath(t, path);
    case 'move': {
      const { from, to } = moveEnds(op, p);
      if (initial && (exists(t, from) || exists(t, to)))
        throw new RefusalError(RULES.initialMoves, from);
      return relocate(t, from, to);
    }
    default:
      s.others.push(op);
  }
}

/** A missing source is the Go MoveVaultPath "not-found", which the desktop treats as done. */
function relocate(t: Tree, from: string, to: string) {
  if (!exists(t, from)) return;
  if (exists(t, to)) throw new RefusalError(RULES.moveTargetExists, to);
  movePath(t, from, to);
}

/** applyRemoteOpWithClient: throws RefusalError (or a filesystem Error) to abort the sync. */
export function applyRemoteOp(s: DesktopState, op: RemoteOp, initial: boolean): void {
  if (op.device_id === s.deviceId) return;
  if (op.entity_type === 'file') return applyFileOp(s, op, payloadOf(op.payload_json), initial);
  if (op.entity_type === 'folder') return applyFolderOp(s, op, payloadOf(op.payload_json), initial);
  s.others.push(op);
}

/**
 * The tree a log means, with none of the desktop's guards: what every device should end
 * with once it has pulled everything.
 */
export function canonicalTree(ops: readonly RemoteOp[]): Tree {
  const t = emptyTree();
  for (const op of ops) {
    if (op.entity_type !== 'file' && op.entity_type !== 'folder') continue;
    const p = payloadOf(op.payload_json);
    const path = text(p, 'path') || op.entity_id;
    if (op.op_type === 'move') {
      const from = text(p, 'fromPath') || op.entity_id;
      const to = text(p, 'toPath');
      if (from && to && exists(t, from) && !exists(t, to)) movePath(t, from, to);
    } else if (op.op_type === 'delete') removePath(t, path);
    else if (op.op_type === 'create' || op.op_type === 'update') {
      if (op.entity_type === 'folder') makeFolder(t, path);
      else writeFile(t, path, text(p, 'content'));
    }
  }
  return t;
}

/**
 * The snapshot scanner's ops for the change from `before` to `after`: creates and updates
 * shallowest first (folders before files at one depth), then deletes deepest first (files
 * before folders), one delete for every vanished entry.
 */
export function diffTrees(
  before: Tree,
  after: Tree,
  make: (entityType: 'file' | 'folder', path: string, opType: string, payload: object) => LocalOp,
): LocalOp[] {
  type Entry = { kind: 'file' | 'folder'; path: string; opType: string };
  const upserts: Entry[] = [];
  const deletes: Entry[] = [];
  for (const d of after.folders)
    if (!before.folders.has(d)) upserts.push({ kind: 'folder', path: d, opType: 'create' });
  for (const [f, c] of after.files) {
    const old = before.files.get(f);
    if (old === undefined) upserts.push({ kind: 'file', path: f, opType: 'create' });
    else if (old !== c) upserts.push({ kind: 'file', path: f, opType: 'update' });
  }
  for (const d of before.folders)
    if (!after.folders.has(d)) deletes.push({ kind: 'folder', path: d, opType: 'delete' });
  for (const f of before.files.keys())
    if (!after.files.has(f)) deletes.push({ kind: 'file', path: f, opType: 'delete' });
  const byPath = (a: Entry, b: Entry) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
  upserts.sort(
    (a, b) =>
      depth(a.path) - depth(b.path) ||
      (a.kind === b.kind ? byPath(a, b) : a.kind === 'folder' ? -1 : 1),
  );
  deletes.sort(
    (a, b) =>
      depth(b.path) - depth(a.path) ||
      (a.kind === b.kind ? byPath(a, b) : a.kind === 'file' ? -1 : 1),
  );
  return [...upserts, ...deletes].map((e) => {
    if (e.opType === 'delete') return make(e.kind, e.path, 'delete', { path: e.path });
    if (e.kind === 'folder')
      return make('folder', e.path, 'create', { path: e.path, contentHash: '' });
    const content = after.files.get(e.path)!;
    return make('file', e.path, e.opType, { path: e.path, contentHash: sha256(content), content });
  });
}
