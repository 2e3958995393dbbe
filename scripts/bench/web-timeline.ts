import { sha256Hex, type AppendRequest, type EventMeta } from '../../src/log/index.js';
import {
  clientVersion,
  createPeople,
  createVaultEditor,
  DAY,
  fakeArgon,
  deviceName,
  hexOf,
  pick,
  seeded,
  vaultNames,
  type Random,
} from './web-names.js';
import { addActivity } from './web-activity.js';

// The web bench's history, as commands would have written it over a year: registrations
// (self-registered users confirm by mail), pairings, pushes, logins, resets, revocations,
// blocks, blobs, settings and daily cleanups. Each episode is one command's append; the
// episodes are sorted by time, so the log is in time order as a real one is.

export interface SeedShape {
  readonly users: number;
  readonly devices: number;
  readonly ops: number;
  /** Every event that is not an OperationPushed, registrations and pairings included. */
  readonly otherEvents: number;
}

export const FULL_SHAPE: SeedShape = {
  users: 10_000,
  devices: 20_000,
  ops: 1_000_000,
  otherEvents: 200_000,
};

export const shapeAt = (scale: number): SeedShape => ({
  users: Math.max(10, Math.round(FULL_SHAPE.users * scale)),
  devices: Math.max(20, Math.round(FULL_SHAPE.devices * scale)),
  ops: Math.max(1000, Math.round(FULL_SHAPE.ops * scale)),
  otherEvents: Math.max(200, Math.round(FULL_SHAPE.otherEvents * scale)),
});

/** One command's append; `emit` builds it when its turn comes (ops depend on the ones before). */
export interface Episode {
  readonly t: number;
  readonly ops: number;
  /** The device that pushed, for its last_seen. */
  readonly device?: string;
  emit(lastSeq: (stream: string) => number): { requests: AppendRequest[]; meta: EventMeta };
}

export interface Device {
  readonly id: string;
  readonly userId: string;
  readonly vaultId: string;
  readonly paired: number;
  readonly revoked: number;
  sequence: number;
}

const SPAN = 365 * DAY;

/** Builds every episode of a history ending at `end`, sorted by time. */
/** A user who can sign in: confirmed, since `since`. */
export interface ActiveUser {
  readonly id: string;
  readonly username: string;
  readonly email: string;
  readonly since: number;
}

/** What a part of the timeline needs to add its episodes. */
export interface TimelineContext {
  readonly next: Random;
  readonly start: number;
  readonly end: number;
  readonly within: (from: number, to: number) => number;
  readonly meta: (actor: string) => EventMeta;
  readonly one: (stream: string, type: string, data: unknown) => AppendRequest;
  /** Adds an episode of `count` events (counted against shape.otherEvents). */
  readonly add: (
    t: number,
    count: number,
    emit: () => { requests: AppendRequest[]; meta: EventMeta },
  ) => void;
  /** Events other than ops added so far. */
  readonly counted: () => number;
}

export function buildTimeline(shape: SeedShape, end: number): Episode[] {
  const next = seeded(0x5eed0 + shape.users);
  const start = end - SPAN;
  const within = (from: number, to: number) => from + next() * Math.max(0, to - from);
  const ip = () => `${next() < 0.5 ? '198.51.100' : '203.0.113'}.${1 + Math.floor(next() * 250)}`;
  const meta = (actor: string): EventMeta => ({ actor, ip: ip(), requestId: hexOf(next, 8) });
  const episodes: Episode[] = [];
  let other = 0;
  const add = (
    t: number,
    count: number,
    emit: () => { requests: AppendRequest[]; meta: EventMeta },
  ) => {
    other += count;
    episodes.push({ t, ops: 0, emit });
  };
  const one = (stream: string, type: string, data: unknown) =>
    ({ stream, events: [{ type, data }] }) as AppendRequest;

  // Users: three in four registered themselves and confirm (or not) by mail.
  const people = createPeople(next);
  const active: ActiveUser[] = [];
  for (let i = 0; i < shape.users; i++) {
    const userId = hexOf(next, 12);
    const { username, email } = people();
    const t = within(start, end - 2 * DAY);
    const by = next() < 0.75 ? 'self' : next() < 0.8 ? 'admin' : 'operator';
    const stream = `user/${userId}`;
    const registered = {
      userId,
      username,
      email,
      passwordHash: fakeArgon(next),
      confirmed: by !== 'self',
      locale: next() < 0.3 ? 'ru' : 'en',
      registeredBy: by,
    };
    add(t, by === 'self' ? 2 : 1, () => ({
      requests: [
        {
          stream,
          events: [
            { type: 'UserRegistered', data: registered },
            ...(by === 'self'
              ? [
                  {
                    type: 'EmailConfirmationRequested',
                    data: {
                      userId,
                      tokenHash: hexOf(next, 32),
                      expiresAt: new Date(t + 2 * DAY).toISOString(),
                    },
                  },
                ]
              : []),
          ],
        } as AppendRequest,
      ],
      meta: meta(by === 'self' ? 'anonymous' : by === 'admin' ? 'admin:root' : 'cli'),
    }));
    let since = t;
    if (by === 'self') {
      if (next() < 0.08) continue; // never confirmed: no devices, no logins
      since = t + next() * DAY;
      add(since, 1, () => ({
        requests: [one(stream, 'EmailConfirmed', { userId })],
        meta: meta('anonymous'),
      }));
    }
    active.push({ id: userId, username, email, since });
  }

  // Devices: one each, the rest spread so that no one has more than three; one or two vaults.
  const perUser = active.map(() => 1);
  for (let extra = shape.devices - active.length, guard = 0; extra > 0 && guard < 1e7; guard++) {
    const i = Math.floor(next() * active.length);
    if (perUser[i]! < 3) {
      perUser[i]! += 1;
      extra -= 1;
    }
  }
  const devices: Device[] = [];
  const vaults: { userId: string; vaultId: string; devices: Device[] }[] = [];
  active.forEach((user, i) => {
    const count = perUser[i]!;
    const names = vaultNames(next, count > 1 && next() < 0.4 ? 2 : 1);
    const own = names.map((vaultId) => ({ userId: user.id, vaultId, devices: [] as Device[] }));
    vaults.push(...own);
    for (let k = 0; k < count; k++) {
      const paired = k === 0 ? user.since + next() * DAY : within(user.since, end - DAY);
      const revoked = next() < 0.1 ? within(paired + DAY, end) : Infinity;
      const vault = own[k % own.length]!;
      const device: Device = {
        id: `dev_${hexOf(next, 12)}`,
        userId: user.id,
        vaultId: vault.vaultId,
        paired,
        revoked,
        sequence: 0,
      };
      devices.push(device);
      vault.devices.push(device);
      const token = hexOf(next, 32);
      const data = {
        deviceId: device.id,
        userId: user.id,
        vaultId: vault.vaultId,
        name: deviceName(next, user.username),
        clientVersion: clientVersion(next, (end - paired) / SPAN),
        tokenHash: sha256Hex(token),
        tokenHint: `${token.slice(0, 8)}…${token.slice(-4)}`,
        via: next() < 0.95 ? 'pair' : 'register',
      };
      add(paired, 1, () => ({
        requests: [one(`device/${device.id}`, 'DevicePaired', data)],
        meta: meta(`user:${user.id}`),
      }));
      if (revoked !== Infinity) {
        const by = pick(next, ['user', 'user', 'admin', 'self'] as const);
        add(revoked, 1, () => ({
          requests: [
            one(`device/${device.id}`, 'DeviceRevoked', {
              deviceId: device.id,
              userId: user.id,
              by,
            }),
          ],
          meta: meta(by === 'admin' ? 'admin:root' : `user:${user.id}`),
        }));
      }
    }
  });

  // Ops: a heavy tail of busy vaults, pushed in batches by the vault's devices while paired.
  const weights = vaults.map(() => Math.min(200, (1 - next()) ** (-1 / 1.3)));
  const total = weights.reduce((a, b) => a + b, 0);
  let assigned = 0;
  vaults.forEach((vault, i) => {
    const ops =
      i === vaults.length - 1
        ? shape.ops - assigned
        : Math.floor((shape.ops * weights[i]!) / total);
    assigned += ops;
    const edit = createVaultEditor(seeded(i + 1));
    const stream = `vault/${vault.userId}/${vault.vaultId}`;
    for (let left = ops; left > 0;) {
      const size = Math.min(left, 1 + Math.floor(next() * next() * 100));
      left -= size;
      const device = pick(next, vault.devices);
      const t = within(device.paired + 60_000, Math.min(device.revoked, end));
      episodes.push({
        t,
        ops: size,
        device: device.id,
        emit: (lastSeq) => {
          const lastSeen = lastSeq(stream);
          const createdAt = new Date(t).toISOString();
          return {
            requests: [
              {
                stream,
                events: Array.from({ length: size }, () => ({
                  type: 'OperationPushed',
                  data: {
                    client_sequence: ++device.sequence,
                    last_seen_server_seq: lastSeen,
                    conflicts: [],
                    op: {
                      op_id: hexOf(next, 16),
                      device_id: device.id,
                      ...edit(),
                      created_at: createdAt,
                    },
                  },
                })),
              },
            ],
            meta: meta(`device:${device.id}`),
          };
        },
      });
    }
  });

  addActivity(
    { next, start, end, within, meta, one, add, counted: () => other },
    shape,
    active,
    devices,
  );
  return episodes.filter((e) => e.t <= end).sort((a, b) => a.t - b.t);
}
