import fc from 'fast-check';
import { vaultStream } from '../../src/log/index.js';
import {
  applyChange,
  changeArb,
  editFile,
  pick,
  SMALL,
  type Change,
  type Workbench,
} from './desktop-changes.js';
import type { RemoteOp } from './desktop-sim.js';
import {
  createDesktop,
  pullLoop,
  pushPending,
  scanAndPull,
  syncNow,
  type Desktop,
  type PullPage,
  type PushAnswer,
  type SyncTransport,
} from './desktop-sync.js';
import { pull, push, startTestServer, type Device, type TestServer } from './sync-app.js';

/**
 * Several simulated desktops on one vault of a real server (fastify inject) and rounds of
 * syncs whose phases interleave: the world the desktop convergence properties run in.
 */

export class ConnectionLost extends Error {
  override name = 'ConnectionLost';
}

export interface InjectTransport extends SyncTransport {
  /** Sent as page_limit (the desktop sends none): small pages exercise the paging checks. */
  pageLimit: number | undefined;
  /** The next pull after `pages` more pages fails, once, as a dropped connection would; undefined: no cut. */
  cutAfterPages(pages: number | undefined): void;
}

export function injectTransport(
  server: TestServer,
  device: Device,
  pageLimit?: number,
): InjectTransport {
  let pagesLeft: number | undefined;
  return {
    pageLimit,
    cutAfterPages(pages) {
      pagesLeft = pages;
    },
    async pull(since) {
      if (pagesLeft === 0) {
        pagesLeft = undefined;
        throw new ConnectionLost('connection lost during pull');
      }
      if (pagesLeft !== undefined) pagesLeft -= 1;
      const res = await pull(server, device, since, this.pageLimit);
      if (res.statusCode !== 200) throw new Error(`pull failed: ${res.statusCode} ${res.body}`);
      return res.json<PullPage>();
    },
    async push(body) {
      const res = await push(server, device, body.ops);
      if (res.statusCode !== 200) throw new Error(`push failed: ${res.statusCode} ${res.body}`);
      return res.json<PushAnswer>();
    },
  };
}

export interface World extends Workbench {
  readonly server: TestServer;
  readonly desktops: Desktop[];
  readonly transports: InjectTransport[];
  readonly stream: string;
  /** Sync failures tolerated in a history that is not what the property is about. */
  readonly failures: string[];
  readonly stuck: Set<Desktop>;
}

export async function openWorld(
  seedDatabase: string,
  devices: readonly { name: string; device: Device }[],
  vaultId: string,
  pageLimit?: number,
): Promise<World> {
  const server = await startTestServer({ seedDatabase });
  const transports = devices.map(({ device }) => injectTransport(server, device, pageLimit));
  const desktops = devices.map(({ name, device }, i) => {
    let ops = 0;
    return createDesktop({
      name,
      deviceId: device.deviceId,
      transport: transports[i]!,
      newId: () => `${name}-${++ops}`,
    });
  });
  const stream = vaultStream(devices[0]!.device.userId, vaultId);
  return {
    server,
    desktops,
    transports,
    stream,
    deleted: new Set(),
    failures: [],
    stuck: new Set(),
    contents: 0,
  };
}

/** The vault's ops as the log holds them, in server order: the ground truth. */
export function vaultLog(w: World): RemoteOp[] {
  return w.server.runtime.store
    .readStream(w.stream)
    .flatMap((e) =>
      e.type === 'OperationPushed' ? [{ ...e.data.op, server_sequence: e.seq }] : [],
    );
}

// ---- rounds ----

/**
 * One round: each participant catches up, then one of them (if any) makes structural
 * changes while the others only edit files the structural one leaves in place; then all
 * scan and pull before anyone pushes, and the pushes and final pulls interleave.
 */
export interface Round {
  participants: number[];
  structural: number | null;
  changes: Change[];
  /** Per participant (by position), the files it edits. */
  edits: number[][];
  /** Picks among the participants with a phase left: whose push or final pull runs next. */
  order: number[];
}

export const roundArb = (devices: readonly number[]): fc.Arbitrary<Round> =>
  fc.record({
    // Every device half of the time: overlapping syncs are what the rounds are for.
    participants: fc.oneof(
      fc.subarray([...devices], { minLength: devices.length }),
      fc.subarray([...devices], { minLength: 1 }),
    ),
    structural: fc.option(fc.nat(devices.length - 1), { freq: 4 }),
    changes: fc.array(changeArb, { minLength: 1, maxLength: 5 }),
    edits: fc.array(fc.array(fc.nat(SMALL), { maxLength: 2 }), {
      minLength: devices.length,
      maxLength: devices.length,
    }),
    order: fc.array(fc.nat(SMALL), {
      minLength: 2 * devices.length,
      maxLength: 2 * devices.length,
    }),
  });

/**
 * Runs one sync phase. Strict: a failure fails the property, naming the device and phase.
 * Tolerant: it is recorded, and the desktop, which would refuse the same op at every later
 * sync, takes no further part.
 */
export async function phase<T>(
  w: World,
  d: Desktop,
  label: string,
  run: () => Promise<T>,
  strict: boolean,
) {
  try {
    return await run();
  } catch (err) {
    const message = `${d.name} ${label}: ${(err as Error).message}`;
    if (strict) throw new Error(message, { cause: err });
    w.failures.push(message);
    w.stuck.add(d);
    return undefined;
  }
}

export async function runRound(w: World, r: Round, strict: boolean): Promise<void> {
  const live = () => r.participants.map((i) => w.desktops[i]!).filter((d) => !w.stuck.has(d));
  for (const d of live()) await phase(w, d, 'catch-up sync', () => syncNow(d), strict);
  const ds = live();
  if (ds.length === 0) return;
  const gone = new Set<string>();
  const structural = r.structural === null ? undefined : ds[r.structural % ds.length];
  if (structural) for (const c of r.changes) applyChange(w, structural, c, gone);
  ds.forEach((d, k) => {
    if (d !== structural) for (const e of r.edits[k] ?? []) editFile(w, d, e, gone);
  });
  for (const d of ds) await phase(w, d, 'scan and pull', () => scanAndPull(d), strict);
  const left = new Map(ds.filter((d) => !w.stuck.has(d)).map((d) => [d, ['push', 'final pull']]));
  for (let i = 0; left.size > 0; i++) {
    const d = pick([...left.keys()], r.order[i] ?? 0)!;
    const next = left.get(d)!.shift()!;
    if (left.get(d)!.length === 0) left.delete(d);
    if (w.stuck.has(d)) continue;
    await phase(
      w,
      d,
      next,
      async () => (next === 'push' ? (await pushPending(d)).pushed : pullLoop(d, false)),
      strict,
    );
  }
}
