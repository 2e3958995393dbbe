import { createHmac, timingSafeEqual } from 'node:crypto';
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { fsyncParent, fsyncPath } from '../fsync.js';

/** Beside server.db: what an attacker holding only the database cannot forge or roll forward. */
export const ANCHOR_FILE = 'log-anchor.json';
export const anchorFileOf = (dataDir: string) => join(dataDir, ANCHOR_FILE);

/**
 * `open`: written while a process appends (the server every few seconds); events after it
 * may be a crash's. `closed`: written at a clean close; any event after it was appended by
 * something that could not anchor it.
 */
export type AnchorState = 'open' | 'closed';

const AnchorSchema = z.object({
  v: z.literal(1),
  epoch: z.string(),
  seq: z.number().int().nonnegative(),
  hash: z.string().regex(/^[0-9a-f]{64}$/),
  state: z.enum(['open', 'closed']),
  at: z.string(),
  key_id: z.string().regex(/^[0-9a-f]{16}$/),
  mac: z.string().regex(/^[0-9a-f]{64}$/),
});

export type Anchor = z.infer<typeof AnchorSchema>;
export type AnchorFields = Omit<Anchor, 'mac' | 'v' | 'key_id'>;

/** The derived anchor key, with where it came from (for messages) and its short id. */
export interface AnchorKey {
  readonly key: Buffer;
  readonly id: string;
  readonly file: string;
}

// The fields as a JSON array: no field can spill into the next one.
const macOf = (key: Buffer, a: Omit<Anchor, 'mac'>) =>
  createHmac('sha256', key)
    .update(JSON.stringify([a.v, a.epoch, a.seq, a.hash, a.state, a.at, a.key_id]))
    .digest('hex');

export function sealAnchor(key: AnchorKey, fields: AnchorFields): Anchor {
  const unsealed = { v: 1 as const, ...fields, key_id: key.id };
  return { ...unsealed, mac: macOf(key.key, unsealed) };
}

export function macMatches(key: AnchorKey, anchor: Anchor): boolean {
  const { mac, ...rest } = anchor;
  return timingSafeEqual(Buffer.from(macOf(key.key, rest), 'hex'), Buffer.from(mac, 'hex'));
}

export type AnchorRead =
  | { readonly kind: 'missing' }
  | { readonly kind: 'damaged'; readonly reason: string }
  | { readonly kind: 'found'; readonly anchor: Anchor; readonly text: string };

export function readAnchorFile(file: string): AnchorRead {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'missing' };
    return { kind: 'damaged', reason: (err as Error).message };
  }
  try {
    const parsed = AnchorSchema.safeParse(JSON.parse(text));
    if (parsed.success) return { kind: 'found', anchor: parsed.data, text };
    return { kind: 'damaged', reason: 'not an anchor' };
  } catch {
    return { kind: 'damaged', reason: 'not JSON' };
  }
}

// Its own name per writer: the loop's write must never share an inode with the close's.
const tempOf = (file: string, writer: 'sync' | 'async') => `${file}.tmp-${process.pid}-${writer}`;
const textOf = (anchor: Anchor) => `${JSON.stringify(anchor)}\n`;

/** Temp file, fsync, rename, fsync of the directory: the old anchor or the new, never half. */
export function writeAnchorFileSync(file: string, anchor: Anchor): string {
  const temp = tempOf(file, 'sync');
  const text = textOf(anchor);
  try {
    writeFileSync(temp, text, { mode: 0o600 });
    fsyncPath(temp);
    renameSync(temp, file);
  } catch (err) {
    rmSync(temp, { force: true });
    throw err;
  }
  fsyncParent(file);
  return text;
}

/**
 * The same off the event loop, but for the rename: `beforeRename` runs on the loop right
 * before it and may cancel it (a close has written its own anchor meanwhile).
 */
export async function writeAnchorFile(
  file: string,
  anchor: Anchor,
  beforeRename: () => boolean,
): Promise<string | undefined> {
  const temp = tempOf(file, 'async');
  const text = textOf(anchor);
  try {
    const handle = await open(temp, 'w', 0o600);
    try {
      await handle.writeFile(text);
      await handle.sync();
    } finally {
      await handle.close();
    }
    if (!beforeRename()) {
      await rm(temp, { force: true });
      return undefined;
    }
    renameSync(temp, file);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
  const dir = await open(dirname(file), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
  return text;
}
