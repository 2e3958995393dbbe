import { hash } from 'node:crypto';

/**
 * A heavily edited vault as the desktop's snapshot scanner pushes it (test/helpers/
 * desktop-sim.ts diffTrees): file ops keyed by path with {path, contentHash, content},
 * folder creates with {path, contentHash: ''}, deletes with {path}. Folders first, then
 * every note created, then updates spread over the live notes with deletes and re-creates
 * of deleted notes mixed in. Deterministic, so two servers get the same pushes in the
 * same order.
 */
export interface VaultShape {
  readonly ops: number;
  readonly folders: number;
  readonly notes: number;
  readonly deletes: number;
  readonly recreates: number;
  /** Devices taking turns, one batch each. */
  readonly devices: number;
  readonly batch: number;
}

export const FULL_VAULT: VaultShape = {
  ops: 100_000,
  folders: 20,
  notes: 1_000,
  deletes: 1_100,
  recreates: 1_000,
  devices: 3,
  batch: 100,
};

export const QUICK_VAULT: VaultShape = {
  ops: 10_000,
  folders: 5,
  notes: 200,
  deletes: 110,
  recreates: 100,
  devices: 3,
  batch: 100,
};

export interface WireOp {
  readonly entity_type: string;
  readonly entity_id: string;
  readonly op_type: string;
  readonly payload_json: string;
}

/** The push body's op: a wire op with the fields the desktop adds. */
interface PushOp extends WireOp {
  readonly op_id: string;
  readonly client_sequence: number;
  readonly last_seen_server_seq: number;
  readonly created_at: string;
}

export interface Batch {
  readonly device: number;
  readonly size: number;
  readonly body: string;
}

/** What the log holds once every batch is pushed, known before any server sees it. */
export interface Expected {
  /** Final state: a file's path to its contentHash, a folder's path to ''. */
  readonly state: ReadonlyMap<string, string>;
  /** Ops no later op on the same file supersedes (the history a pull from 0 now gets). */
  readonly kept: number;
}

const NOTE_BYTES = 1024;
const CREATED_AT = '2026-12-01T09:00:00Z';

// mulberry32: a seeded generator, so every run and every server gets the same vault.
function random(seed: number) {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function noteContent(path: string, revision: number): string {
  const head = `# ${path}\n\nrevision ${revision}\n\n`;
  return head + 'lorem ipsum dolor sit amet '.repeat(40).slice(0, NOTE_BYTES - head.length);
}

/** The kind of each op after the creates: deletes and re-creates spaced out among updates. */
function schedule(shape: VaultShape): ('update' | 'delete' | 'recreate')[] {
  const edits = shape.ops - shape.folders - shape.notes;
  const kinds = new Array<'update' | 'delete' | 'recreate'>(edits).fill('update');
  const place = (kind: 'delete' | 'recreate', count: number, phase: number) => {
    for (let k = 0; k < count; k++) {
      let at = Math.floor(((k + phase) * edits) / count);
      while (kinds[at] !== 'update') at += 1;
      kinds[at] = kind;
    }
  };
  // Deletes run ahead of re-creates (more of them, earlier phase): one is always pending.
  place('delete', shape.deletes, 0.3);
  place('recreate', shape.recreates, 0.8);
  return kinds;
}

/** Every op of the vault in push order, and what a server should end up with. */
export function editedVault(shape: VaultShape): { ops: WireOp[]; expected: Expected } {
  const next = random(0x5eed);
  const ops: WireOp[] = [];
  const state = new Map<string, string>();
  const revisions = new Map<string, number>();
  // For the supersession count, each file's writes that no later one has replaced yet,
  // under the server's rule: any write replaces content; an update or delete also replaces
  // a delete, and a create does not.
  const standing = new Map<string, string[]>();
  let superseded = 0;
  const fileOp = (path: string, opType: string) => {
    const earlier = standing.get(path) ?? [];
    const replaced = opType === 'create' ? earlier.filter((op) => op !== 'delete') : earlier;
    superseded += replaced.length;
    standing.set(path, [...earlier.filter((op) => !replaced.includes(op)), opType]);
    if (opType === 'delete') {
      state.delete(path);
      ops.push({
        entity_type: 'file',
        entity_id: path,
        op_type: opType,
        payload_json: JSON.stringify({ path }),
      });
      return;
    }
    const revision = (revisions.get(path) ?? 0) + 1;
    revisions.set(path, revision);
    const content = noteContent(path, revision);
    const contentHash = hash('sha256', content, 'hex');
    state.set(path, contentHash);
    const payload = JSON.stringify({ path, contentHash, content });
    ops.push({ entity_type: 'file', entity_id: path, op_type: opType, payload_json: payload });
  };

  const folders = Array.from({ length: shape.folders }, (_, i) => `Notes/topic-${i}`);
  for (const path of folders) {
    state.set(path, '');
    const payload = JSON.stringify({ path, contentHash: '' });
    ops.push({ entity_type: 'folder', entity_id: path, op_type: 'create', payload_json: payload });
  }
  // Live notes in an array for a uniform pick, with each one's index for swap-removal.
  const live: string[] = [];
  const index = new Map<string, number>();
  const add = (path: string) => index.set(path, live.push(path) - 1);
  const pick = () => live[Math.floor(next() * live.length)]!;
  for (let i = 0; i < shape.notes; i++) {
    const path = `${folders[i % shape.folders]}/note-${i}.md`;
    fileOp(path, 'create');
    add(path);
  }
  const deleted: string[] = [];
  for (const kind of schedule(shape)) {
    if (kind === 'update') {
      fileOp(pick(), 'update');
    } else if (kind === 'delete') {
      const path = pick();
      const at = index.get(path)!;
      const moved = live.pop()!;
      if (moved !== path) {
        live[at] = moved;
        index.set(moved, at);
      }
      index.delete(path);
      deleted.push(path);
      fileOp(path, 'delete');
    } else {
      const path = deleted.shift()!;
      fileOp(path, 'create');
      add(path);
    }
  }
  return { ops, expected: { state, kept: ops.length - superseded } };
}

/** The vault's ops as push bodies, devices taking turns batch by batch. */
export function* pushBatches(ops: readonly WireOp[], shape: VaultShape): Generator<Batch> {
  const sequences = new Array<number>(shape.devices).fill(0);
  for (let start = 0, n = 0; start < ops.length; start += shape.batch, n++) {
    const device = n % shape.devices;
    const batch: PushOp[] = ops.slice(start, start + shape.batch).map((op) => ({
      ...op,
      op_id: `d${device}-op-${sequences[device]}`,
      client_sequence: ++sequences[device]!,
      last_seen_server_seq: 0,
      created_at: CREATED_AT,
    }));
    yield { device, size: batch.length, body: JSON.stringify({ ops: batch }) };
  }
}

/**
 * Applies pulled ops in order the way the desktop's state ends up (a create or update sets
 * a path's content, a delete removes it; derived snapshot ops are creates) and names the
 * first difference from the expected state; undefined when they agree.
 */
export function differenceFrom(expected: Expected, pulled: Iterable<WireOp>): string | undefined {
  const state = new Map<string, string>();
  for (const op of pulled) {
    const payload = JSON.parse(op.payload_json) as { path?: string; contentHash?: string };
    const path = payload.path ?? op.entity_id;
    if (op.op_type === 'delete') state.delete(path);
    else state.set(path, op.entity_type === 'folder' ? '' : (payload.contentHash ?? ''));
  }
  for (const [path, contentHash] of expected.state) {
    if (!state.has(path)) return `${path} missing`;
    if (state.get(path) !== contentHash) return `${path} has other content`;
  }
  if (state.size !== expected.state.size) {
    return `${state.size} paths, ${expected.state.size} expected`;
  }
  return undefined;
}
