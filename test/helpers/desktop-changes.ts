import fc from 'fast-check';
import {
  depth,
  exists,
  isUnder,
  makeFolder,
  movePath,
  removePath,
  writeFile,
} from './desktop-sim.js';
import { recordMove, recordOther, type Desktop } from './desktop-sync.js';

/**
 * The local changes a user makes on a simulated desktop: on its disk (seen by the next
 * scan) or through the app (moves and other services' ops, recorded at once). Changes name
 * their targets by index into what exists when they run, so that a shrunk history still
 * means something; a change that does not fit the tree is skipped.
 */

/** What changes share across the desktops of one run. */
export interface Workbench {
  /** Every file path some device deleted or moved away from: candidates for re-creation. */
  readonly deleted: Set<string>;
  /** A counter that makes every written content unique. */
  contents: number;
}

const FOLDER_NAMES = ['a', 'b', 'c'];
const FILE_NAMES = ['n1.md', 'n2.md', 'n3.md'];
const OTHER_TYPES = ['plugin-record', 'workspace'];

export type Change =
  | { kind: 'create'; dir: number; name: number }
  | { kind: 'edit'; file: number }
  | { kind: 'delete'; file: number }
  | { kind: 'rename'; file: number; dir: number; name: number }
  | { kind: 'move'; file: number; dir: number; name: number; path: 'none' | 'from' | 'to' }
  | { kind: 'recreate'; gone: number }
  | { kind: 'mkdir'; dir: number; name: number }
  | { kind: 'rmdir'; folder: number }
  | { kind: 'mvdir'; folder: number; dir: number; name: number; explicit: boolean }
  | { kind: 'other'; type: number; entity: number };

const join = (dir: string, name: string) => (dir ? `${dir}/${name}` : name);
export const pick = <T>(xs: readonly T[], k: number): T | undefined =>
  xs[k % Math.max(xs.length, 1)];
const filesOf = (d: Desktop) => [...d.tree.files.keys()].sort();
const foldersOf = (d: Desktop) => [...d.tree.folders].sort();
const content = (w: Workbench, d: Desktop) => `${d.name}:${++w.contents}`;

/** Files under `root` leave their paths: nobody else may edit them this round. */
/**
 * Records the files a change removes from `root`. Other devices may still edit them in the
 * same round when the change is a plain delete (of a file, or a rename the desktop records
 * as delete + create): the op the server orders last wins that race on every device. Not
 * after a move or a folder's removal: a device that skips its own edit cannot follow those.
 */
function vacate(w: Workbench, d: Desktop, root: string, gone: Set<string>, racing = false) {
  // Everything under the root, also files that left it earlier in the round.
  if (!racing) gone.add(root);
  for (const f of d.tree.files.keys()) {
    if (isUnder(root, f)) {
      if (!racing) gone.add(f);
      w.deleted.add(f);
    }
  }
}

/** An edit of an existing file not under any path in `avoid`; nothing when there is none. */
export function editFile(w: Workbench, d: Desktop, k: number, avoid: ReadonlySet<string>) {
  const f = pick(
    filesOf(d).filter((p) => ![...avoid].some((root) => isUnder(root, p))),
    k,
  );
  if (f) d.tree.files.set(f, content(w, d));
}

function relocation(d: Desktop, c: { file: number; dir: number; name: number }) {
  const from = pick(filesOf(d), c.file);
  const to = join(pick(['', ...foldersOf(d)], c.dir)!, FILE_NAMES[c.name % FILE_NAMES.length]!);
  return from && !exists(d.tree, to) ? { from, to } : undefined;
}

/** Applies one change to the desktop's disk (or through the app, for moves); skipped when it does not fit. */
export function applyChange(w: Workbench, d: Desktop, c: Change, gone: Set<string>): void {
  const t = d.tree;
  switch (c.kind) {
    case 'create': {
      const path = join(
        pick(['', ...foldersOf(d)], c.dir)!,
        FILE_NAMES[c.name % FILE_NAMES.length]!,
      );
      if (!exists(t, path)) writeFile(t, path, content(w, d));
      return;
    }
    case 'edit':
      return editFile(w, d, c.file, new Set());
    case 'delete': {
      const f = pick(filesOf(d), c.file);
      if (!f) return;
      vacate(w, d, f, gone, true);
      return removePath(t, f);
    }
    case 'rename':
    case 'move': {
      const r = relocation(d, c);
      if (!r) return;
      vacate(w, d, r.from, gone, c.kind === 'rename');
      if (c.kind === 'move') {
        // A move into a path that others still hold (this device deleted it) is no race
        // the desktop can win: it skips its own later edit.
        gone.add(r.to);
        const path = { none: undefined, from: r.from, to: r.to }[c.path];
        return recordMove(d, 'file', r.from, r.to, path);
      }
      const text = t.files.get(r.from)!;
      removePath(t, r.from);
      return writeFile(t, r.to, text);
    }
    case 'recreate': {
      const path = pick([...w.deleted].filter((p) => !exists(t, p)).sort(), c.gone);
      if (path) writeFile(t, path, content(w, d));
      return;
    }
    case 'mkdir': {
      const parent = pick(['', ...foldersOf(d).filter((f) => depth(f) === 1)], c.dir)!;
      const path = join(parent, FOLDER_NAMES[c.name % FOLDER_NAMES.length]!);
      if (!exists(t, path)) makeFolder(t, path);
      return;
    }
    case 'rmdir': {
      const folder = pick(foldersOf(d), c.folder);
      if (!folder) return;
      vacate(w, d, folder, gone);
      return removePath(t, folder);
    }
    case 'mvdir': {
      const from = pick(foldersOf(d), c.folder);
      if (!from) return;
      const parents = ['', ...foldersOf(d).filter((f) => depth(f) === 1 && !isUnder(from, f))];
      const to = join(pick(parents, c.dir)!, FOLDER_NAMES[c.name % FOLDER_NAMES.length]!);
      if (exists(t, to) || isUnder(from, to)) return;
      vacate(w, d, from, gone);
      for (const f of w.deleted) if (isUnder(to, f)) gone.add(f);
      return c.explicit ? recordMove(d, 'folder', from, to) : movePath(t, from, to);
    }
    case 'other': {
      const type = OTHER_TYPES[c.type % OTHER_TYPES.length]!;
      const data = content(w, d);
      // A workspace is created once, under a new id; a plugin record is updated again and again.
      if (type === 'workspace') {
        const id = `ws-${data}`;
        return recordOther(d, type, id, 'create', { workspaceId: id, path: id, name: id });
      }
      const id = `record-${c.entity}`;
      return recordOther(d, type, id, 'update', { recordId: id, data });
    }
  }
}

export const SMALL = 9;
export const changeArb: fc.Arbitrary<Change> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({ kind: fc.constant('create'), dir: fc.nat(SMALL), name: fc.nat(SMALL) }),
  },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('edit'), file: fc.nat(SMALL) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('delete'), file: fc.nat(SMALL) }) },
  fc.record({
    kind: fc.constant('rename'),
    file: fc.nat(SMALL),
    dir: fc.nat(SMALL),
    name: fc.nat(SMALL),
  }),
  fc.record({
    kind: fc.constant('move'),
    file: fc.nat(SMALL),
    dir: fc.nat(SMALL),
    name: fc.nat(SMALL),
    path: fc.constantFrom('none', 'from', 'to'),
  }),
  fc.record({ kind: fc.constant('recreate'), gone: fc.nat(SMALL) }),
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('mkdir'), dir: fc.nat(SMALL), name: fc.nat(SMALL) }),
  },
  fc.record({ kind: fc.constant('rmdir'), folder: fc.nat(SMALL) }),
  fc.record({
    kind: fc.constant('mvdir'),
    folder: fc.nat(SMALL),
    dir: fc.nat(SMALL),
    name: fc.nat(SMALL),
    explicit: fc.boolean(),
  }),
  fc.record({ kind: fc.constant('other'), type: fc.nat(1), entity: fc.nat(1) }),
);
