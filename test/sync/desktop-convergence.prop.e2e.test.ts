import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { changeArb, type Change } from '../helpers/desktop-changes.js';
import { canonicalTree, treeView } from '../helpers/desktop-sim.js';
import { syncNow, type Desktop } from '../helpers/desktop-sync.js';
import {
  ConnectionLost,
  openWorld,
  phase,
  roundArb,
  runRound,
  vaultLog,
  type Round,
  type World,
} from '../helpers/desktop-world.js';
import { addUser, pair, startTestServer, type Device } from '../helpers/sync-app.js';

// The acceptance criteria, checked with simulated desktops (test/helpers/desktop-sim.ts,
// desktop-sync.ts: the real client's sync cycle and apply rules) against the real server over
// random histories. The log is the ground truth: every device must end with the tree that
// applying all of the vault's ops in server order means, and must never refuse an op on the way.

const VAULT = 'notes';
const NAMES = ['A', 'B', 'C', 'N'] as const;
const HISTORY = [0, 1, 2];
/** Paired with the others but synced only once the history is written. */
const NEW = 3;
/** Each property stops generating (and shrinking) after this long, so the file stays within a minute. */
const TIME_LIMIT = 15_000;

let golden: string;
let goldenDir: string;
let devices: Device[];

beforeAll(async () => {
  const template = await startTestServer();
  await addUser(template, 'alice');
  devices = [];
  for (const name of NAMES) devices.push(await pair(template, 'alice', VAULT, name));
  template.runtime.db.pragma('wal_checkpoint(TRUNCATE)');
  goldenDir = mkdtempSync(join(tmpdir(), 'vss-desktops-'));
  golden = join(goldenDir, 'server.db');
  copyFileSync(join(template.dir, 'server.db'), golden);
  await template.close();
});
afterAll(() => rmSync(goldenDir, { recursive: true, force: true }));

async function inWorld(pageLimit: number | undefined, run: (w: World) => Promise<void>) {
  const w = await openWorld(
    golden,
    NAMES.map((name, i) => ({ name, device: devices[i]! })),
    VAULT,
    pageLimit,
  );
  try {
    await run(w);
  } finally {
    await w.server.close();
  }
}

/** The first sync of every history device, on the still empty vault. */
async function connect(w: World, strict: boolean) {
  for (const i of HISTORY)
    await phase(w, w.desktops[i]!, 'first sync', () => syncNow(w.desktops[i]!), strict);
}

function expectCanonical(w: World, d: Desktop) {
  const log = vaultLog(w);
  expect(treeView(d.tree), `${d.name}'s tree against the log (${JSON.stringify(log)})`).toEqual(
    treeView(canonicalTree(log)),
  );
  // Workspace and plugin-record ops are not the file model's; they must all arrive all the same.
  const others = log.filter(
    (op) => op.entity_type !== 'file' && op.entity_type !== 'folder' && op.device_id !== d.deviceId,
  );
  expect(d.others.map((op) => op.op_id)).toEqual(others.map((op) => op.op_id));
}

const pageLimitArb = fc.constantFrom<number | undefined>(undefined, 1, 2, 3);

/**
 * A failure found by an earlier run, kept as a literal input (which still means the same
 * when the generators change): `found` names the server it failed against.
 */
interface Regression<T> {
  why: string;
  found: string;
  input: T;
}

const settings = <T>(numRuns: number, regressions: Regression<T>[]): fc.Parameters<[T]> => ({
  numRuns,
  examples: regressions.map((r) => [r.input] as [T]),
  // The plugin is typed for any property; fast-check's Plugin<unknown> does not widen on its own.
  plugins: [fc.interruptAfterTimeLimit(TIME_LIMIT) as fc.Plugin<[T]>],
});

/** A round in which one device alone catches up, changes things and syncs. */
const alone = (device: number, changes: Change[]): Round => ({
  participants: [device],
  structural: 0,
  changes,
  edits: [],
  order: [],
});
const create = (name: number, dir = 0): Change => ({ kind: 'create', dir, name });
const edit = (file: number): Change => ({ kind: 'edit', file });

// ---- 1. a new device's first sync ----

interface FirstSync {
  pageLimit: number | undefined;
  rounds: Round[];
  /** Pages (of `cutPageLimit` ops) the first sync gets before its connection drops; null: not interrupted. */
  cut: number | null;
  cutPageLimit: number;
  /** Rounds of the other devices while the new one is cut off. */
  between: Round[];
}

const firstSyncArb: fc.Arbitrary<FirstSync> = fc.record({
  pageLimit: pageLimitArb,
  rounds: fc.array(roundArb(HISTORY), { minLength: 1, maxLength: 8 }),
  cut: fc.option(fc.integer({ min: 1, max: 4 }), { freq: 2 }),
  cutPageLimit: fc.integer({ min: 1, max: 2 }),
  between: fc.array(roundArb(HISTORY), { minLength: 1, maxLength: 2 }),
});

const firstSyncOf = (rounds: Round[], more: Partial<FirstSync> = {}): FirstSync => ({
  pageLimit: undefined,
  rounds,
  cut: null,
  cutPageLimit: 1,
  between: [],
  ...more,
});

const FIRST_SYNC_REGRESSIONS: Regression<FirstSync>[] = [
  {
    why: 'a note created, then edited: the first sync refused the edit over the file it had just created',
    found: '156dbd4',
    input: firstSyncOf([alone(0, [create(0)]), alone(0, [edit(0)])]),
  },
  {
    why: 'a folder with a note, trashed: the first sync refused the delete of the note it had just created',
    found: '156dbd4',
    input: firstSyncOf([
      alone(0, [{ kind: 'mkdir', dir: 0, name: 0 }, create(0, 1)]),
      alone(0, [{ kind: 'rmdir', folder: 0 }]),
    ]),
  },
  {
    why: 'a note moved in the app: the first sync refused the move of the file it had just created',
    found: '156dbd4',
    input: firstSyncOf([
      alone(0, [create(0), { kind: 'move', file: 0, dir: 0, name: 1, path: 'none' }]),
    ]),
  },
  {
    why: 'a first sync cut off after one page while another device edits a note it already has',
    found: '156dbd4',
    input: firstSyncOf([alone(0, [create(0), create(1), create(2)])], {
      cut: 1,
      cutPageLimit: 1,
      between: [alone(0, [edit(0)])],
    }),
  },
  {
    why: 'two updates of one plugin record and a workspace: every op of them reaches the new device (pinned)',
    found: '-',
    input: firstSyncOf([
      alone(0, [
        { kind: 'other', type: 0, entity: 0 },
        { kind: 'other', type: 0, entity: 0 },
        { kind: 'other', type: 1, entity: 0 },
      ]),
    ]),
  },
];

async function firstSync(s: FirstSync) {
  await inWorld(s.pageLimit, async (w) => {
    // The history is whatever the server accepted: its own desktops' refusals are property 2's.
    await connect(w, false);
    for (const r of s.rounds) await runRound(w, r, false);
    const n = w.desktops[NEW]!;
    if (s.cut !== null) {
      w.transports[NEW]!.pageLimit = s.cutPageLimit;
      w.transports[NEW]!.cutAfterPages(s.cut);
      try {
        await syncNow(n);
      } catch (err) {
        if (!(err instanceof ConnectionLost)) {
          throw new Error(`N interrupted first sync: ${(err as Error).message}`, { cause: err });
        }
      }
      // A sync shorter than the cut ends normally; the connection is back either way.
      w.transports[NEW]!.cutAfterPages(undefined);
      for (const r of s.between) await runRound(w, r, false);
    }
    await phase(w, n, 'first sync', () => syncNow(n), true);
    await phase(w, n, 'second sync', () => syncNow(n), true);
    expectCanonical(w, n);
  });
}

// ---- 2. devices that keep syncing converge ----

interface Convergence {
  pageLimit: number | undefined;
  rounds: Round[];
}

const convergenceArb: fc.Arbitrary<Convergence> = fc.record({
  pageLimit: pageLimitArb,
  rounds: fc.array(roundArb(HISTORY), { minLength: 1, maxLength: 8 }),
});

const EVERYONE = [...HISTORY];
const CONVERGENCE_REGRESSIONS: Regression<Convergence>[] = [
  {
    why: 'two devices edit one note between syncs: the second to push applied the first one’s older edit over its own',
    found: '156dbd4',
    input: {
      pageLimit: undefined,
      rounds: [
        alone(0, [create(0)]),
        {
          participants: EVERYONE,
          structural: null,
          changes: [],
          edits: [[], [0], [0]],
          order: [0, 0, 0, 0, 0, 0],
        },
      ],
    },
  },
  {
    why: 'the same, with a third device’s app move of another note pushed between the two edits',
    found: 'e3fb301',
    input: {
      pageLimit: undefined,
      rounds: [
        alone(0, [create(0), create(1)]),
        {
          participants: EVERYONE,
          structural: 0,
          changes: [{ kind: 'move', file: 1, dir: 0, name: 2, path: 'none' }],
          edits: [[], [0], [0]],
          order: [1, 0, 0, 0, 0, 0],
        },
      ],
    },
  },
  {
    why: 'an edit racing a delete then re-create of the note: the editor got the delete back and lost its edit',
    found: 'per-pair supersession (a delete kept before a create)',
    input: {
      pageLimit: undefined,
      rounds: [
        alone(0, [create(0), create(1)]),
        {
          participants: EVERYONE,
          structural: 0,
          changes: [
            { kind: 'delete', file: 0 },
            { kind: 'other', type: 1, entity: 0 },
            { kind: 'recreate', gone: 0 },
          ],
          edits: [[], [0], []],
          order: [0, 0, 0, 0, 0, 0],
        },
      ],
    },
  },
];

async function convergence(s: Convergence) {
  await inWorld(s.pageLimit, async (w) => {
    await connect(w, true);
    for (const r of s.rounds) await runRound(w, r, true);
    for (const i of HISTORY) {
      const d = w.desktops[i]!;
      await phase(w, d, 'settling sync', () => syncNow(d), true);
      await phase(w, d, 'second settling sync', () => syncNow(d), true);
    }
    for (const i of HISTORY) expectCanonical(w, w.desktops[i]!);
  });
}

// ---- 3. a device that synced before gets no more ops than the log holds ----

interface Lagging {
  pageLimit: number | undefined;
  lagging: number;
  /** Each device alone: catch up, change, sync; no two syncs overlap. */
  before: { device: number; changes: Change[] }[];
  /** The other devices' rounds while the lagging one is offline. */
  after: Round[];
}

const laggingArb: fc.Arbitrary<Lagging> = fc.record({
  pageLimit: pageLimitArb,
  lagging: fc.nat(HISTORY.length - 1),
  before: fc.array(
    fc.record({
      device: fc.nat(HISTORY.length - 1),
      changes: fc.array(changeArb, { minLength: 1, maxLength: 4 }),
    }),
    { minLength: 1, maxLength: 5 },
  ),
  after: fc.array(roundArb(HISTORY), { minLength: 1, maxLength: 5 }),
});

const LAGGING_REGRESSIONS: Regression<Lagging>[] = [
  {
    why: 'a note edited three times, deleted and created again while a device was away (a pinned example, not a failure)',
    found: '-',
    input: {
      pageLimit: 1,
      lagging: 1,
      before: [{ device: 0, changes: [create(0)] }],
      after: [
        alone(0, [edit(0)]),
        alone(2, [edit(0)]),
        alone(0, [edit(0), { kind: 'delete', file: 0 }]),
        alone(2, [{ kind: 'recreate', gone: 0 }]),
      ],
    },
  },
];

async function lagging(s: Lagging) {
  await inWorld(s.pageLimit, async (w) => {
    await connect(w, true);
    for (const b of s.before) {
      await runRound(
        w,
        { participants: [b.device], structural: 0, changes: b.changes, edits: [], order: [] },
        true,
      );
    }
    const l = w.desktops[s.lagging]!;
    await phase(w, l, 'catch-up sync', () => syncNow(l), true);
    for (const r of s.after) {
      const participants = r.participants.filter((i) => i !== s.lagging);
      if (participants.length > 0) await runRound(w, { ...r, participants }, false);
    }
    const cursor = l.cursor;
    const result = await phase(w, l, 'sync after a while', () => syncNow(l), true);
    const inLog = vaultLog(w).filter((op) => op.server_sequence > cursor).length;
    expect(result!.pulled).toBeLessThanOrEqual(inLog);
    expectCanonical(w, l);
  });
}

describe('simulated desktops against the server', () => {
  it('a new device completes its first sync without refusing and ends with the tree of the log', async () => {
    await fc.assert(
      fc.asyncProperty(firstSyncArb, firstSync),
      settings(80, FIRST_SYNC_REGRESSIONS),
    );
  }, 60_000);

  it('devices that sync repeatedly, with overlapping syncs, converge on the tree of the log', async () => {
    await fc.assert(
      fc.asyncProperty(convergenceArb, convergence),
      settings(80, CONVERGENCE_REGRESSIONS),
    );
  }, 60_000);

  it('a device that synced before pulls no more ops than the log holds and ends with its tree', async () => {
    await fc.assert(fc.asyncProperty(laggingArb, lagging), settings(60, LAGGING_REGRESSIONS));
  }, 60_000);
});
