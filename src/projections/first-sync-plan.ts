import { isContentOp, isRelocation, isUnder, relocationOf, stringField } from './op-paths.js';

/** A vault op as the plan reads it: its payload is parsed only for relocations and workspaces. */
export interface PlanOp {
  readonly seq: number;
  readonly entityType: string;
  readonly entityId: string;
  readonly opType: string;
  /** For file and folder ops: the path they act on. */
  readonly path: string;
  readonly payload: () => Record<string, unknown>;
}

/**
 * One op of a first sync, at `seq`. Without `derive` it is the log's op at that seq, as
 * stored. With it, the server builds a create of `derive.path` from the op at
 * `derive.source`: the path's final state came there through a move.
 */
export interface PlanRow {
  readonly seq: number;
  readonly derive?: {
    readonly kind: 'file' | 'folder' | 'workspace';
    readonly path: string;
    readonly source: number;
  };
}

interface Entry {
  readonly kind: 'file' | 'folder';
  /** The op that set this content (file) or made this folder. */
  readonly origin: number;
  readonly originPath: string;
}

interface Workspace {
  /** The workspace's create, when the log has one: its derived create goes there. */
  readonly createSeq: number | undefined;
  /** The latest op naming its path and metadata. */
  source: number;
  path: string;
  /** True while nothing but its create has touched it. */
  untouched: boolean;
  active: boolean;
  bin: Map<string, Entry>;
}

function takeSubtree(tree: Map<string, Entry>, root: string): Map<string, Entry> {
  const taken = new Map<string, Entry>();
  for (const [path, entry] of tree) {
    if (!isUnder(root, path)) continue;
    taken.set(path.slice(root.length), entry);
    tree.delete(path);
  }
  return taken;
}

function putSubtree(tree: Map<string, Entry>, root: string, entries: Map<string, Entry>) {
  for (const [suffix, entry] of entries) tree.set(root + suffix, entry);
}

const hasPath = (tree: Map<string, Entry>, root: string) => {
  if (tree.has(root)) return true;
  for (const path of tree.keys()) if (isUnder(root, path)) return true;
  return false;
};

/**
 * What a device's first sync receives instead of the history up to the plan's head: each
 * path that exists at the head, once, with its final content; active workspaces once, at
 * their final path; the last workspace tree order; every op the server cannot see the
 * effect of (plugin records, unknown entity types), unchanged. Deletes, moves, renames,
 * trashed workspaces and superseded content are left out, so the desktop's initial
 * reconciliation, which refuses to change a path that exists, never meets one.
 *
 * Each row keeps the seq of the op that made it (a derived create takes its origin's
 * seq), so rows are strictly increasing and no two share a seq.
 */
export function planFirstSync(ops: Iterable<PlanOp>): PlanRow[] {
  const tree = new Map<string, Entry>();
  const workspaces = new Map<string, Workspace>();
  const kept: number[] = [];
  let treeOrder: number | undefined;

  const relocate = (from: string, to: string) => {
    if (!hasPath(tree, from) || hasPath(tree, to)) return;
    putSubtree(tree, to, takeSubtree(tree, from));
  };

  const workspaceOp = (op: PlanOp) => {
    const payload = op.payload();
    const path = stringField(payload, 'path') || stringField(payload, 'name');
    let ws = workspaces.get(op.entityId);
    if (op.opType === 'create') {
      workspaces.set(op.entityId, {
        createSeq: op.seq,
        source: op.seq,
        path,
        untouched: true,
        active: true,
        bin: new Map(),
      });
      return;
    }
    if (!ws) {
      ws = {
        createSeq: undefined,
        source: op.seq,
        path,
        untouched: false,
        active: true,
        bin: new Map(),
      };
      workspaces.set(op.entityId, ws);
    }
    ws.untouched = false;
    if (op.opType === 'rename') {
      const moved = relocationOf(op.entityType, op.entityId, payload);
      if (moved) relocate(moved.from, moved.to);
    } else if (op.opType === 'trash') {
      ws.bin = takeSubtree(tree, ws.path || path);
      ws.active = false;
      return;
    } else if (op.opType === 'restore') {
      if (path && !hasPath(tree, path)) putSubtree(tree, path, ws.bin);
      ws.bin = new Map();
      ws.active = true;
    } else {
      kept.push(op.seq);
      return;
    }
    ws.source = op.seq;
    if (path) ws.path = path;
  };

  for (const op of ops) {
    const { entityType: type, opType, path } = op;
    if (isContentOp(type, opType)) {
      tree.set(path, {
        kind: type === 'file' ? 'file' : 'folder',
        origin: op.seq,
        originPath: path,
      });
    } else if ((type === 'file' || type === 'folder') && opType === 'delete') {
      // A file has nothing below it: no walk over the tree for the common delete.
      if (tree.get(path)?.kind === 'file') tree.delete(path);
      else takeSubtree(tree, path);
    } else if (type === 'workspace') {
      workspaceOp(op);
    } else if (type === 'workspace-tree-order') {
      treeOrder = op.seq;
    } else if (isRelocation(type, opType)) {
      const moved = relocationOf(type, op.entityId, op.payload());
      if (moved) relocate(moved.from, moved.to);
    } else {
      kept.push(op.seq);
    }
  }

  const rows: PlanRow[] = kept.map((seq) => ({ seq }));
  if (treeOrder !== undefined) rows.push({ seq: treeOrder });
  for (const [path, entry] of tree) {
    rows.push(
      path === entry.originPath
        ? { seq: entry.origin }
        : { seq: entry.origin, derive: { kind: entry.kind, path, source: entry.origin } },
    );
  }
  for (const ws of workspaces.values()) {
    if (!ws.active) continue;
    const seq = ws.createSeq ?? ws.source;
    rows.push(
      ws.untouched
        ? { seq }
        : { seq, derive: { kind: 'workspace', path: ws.path, source: ws.source } },
    );
  }
  return rows.sort((a, b) => a.seq - b.seq);
}
