import { hash } from 'node:crypto';

// Realistic-looking values for the web bench's seed: people's handles (some Cyrillic),
// device names and client versions as desktops report them, vault names and note paths.
// Everything is drawn from a seeded generator, so one seed always builds the same log.

export type Random = () => number;

/** mulberry32: small, fast and seeded. */
export function seeded(seed: number): Random {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const DAY = 86_400_000;

/** An argon2id digest of the real shape (the seed never needs the password). */
export const fakeArgon = (next: Random) =>
  `$argon2id$v=19$m=19456,t=2,p=1$${Buffer.from(hexOf(next, 16), 'hex').toString('base64')}$` +
  Buffer.from(hexOf(next, 32), 'hex').toString('base64');

export const pick = <T>(next: Random, items: readonly T[]): T =>
  items[Math.floor(next() * items.length)]!;

export const hexOf = (next: Random, bytes: number) => {
  let s = '';
  for (let i = 0; i < bytes; i++)
    s += Math.floor(next() * 256)
      .toString(16)
      .padStart(2, '0');
  return s;
};

const FIRST = [
  'anna',
  'boris',
  'clara',
  'daniel',
  'elena',
  'felix',
  'greta',
  'hugo',
  'irina',
  'jonas',
  'katya',
  'leon',
  'maria',
  'nikita',
  'olga',
  'pavel',
  'quinn',
  'rosa',
  'sergey',
  'tanya',
  'ulrich',
  'vera',
  'walter',
  'xenia',
  'yuri',
  'zoe',
  'alex',
  'sam',
  'maxim',
  'lena',
];
const LAST = [
  'ivanova',
  'smith',
  'petrov',
  'müller',
  'garcia',
  'kuznetsov',
  'novak',
  'rossi',
  'berg',
  'sokolova',
  'chen',
  'dubois',
  'larsen',
  'popov',
  'silva',
  'kowalski',
  'fischer',
  'orlova',
];
const CYRILLIC_FIRST = ['анна', 'борис', 'ольга', 'дмитрий', 'мария', 'иван', 'ксения', 'пётр'];
const CYRILLIC_LAST = ['иванов', 'смирнова', 'кузнецов', 'попова', 'соколов', 'лебедева'];
const DOMAINS = ['example.org', 'mail.example.com', 'example.net', 'corp.example'];

/** Unique handles and addresses, the way people pick them (first.last, a number when taken). */
export function createPeople(next: Random) {
  const taken = new Set<string>();
  return () => {
    const cyrillic = next() < 0.08;
    const first = pick(next, cyrillic ? CYRILLIC_FIRST : FIRST);
    const last = pick(next, cyrillic ? CYRILLIC_LAST : LAST);
    const style = next();
    let base = style < 0.5 ? `${first}.${last}` : style < 0.8 ? `${first}${last[0]}` : first;
    if (next() < 0.3) base = base[0]!.toUpperCase() + base.slice(1);
    let username = base;
    for (let n = 2; taken.has(username.toLowerCase()); n++) username = `${base}${n}`;
    taken.add(username.toLowerCase());
    const local = cyrillic ? `user${taken.size}` : username.toLowerCase().replace(/ü/g, 'ue');
    return { username, email: `${local}@${pick(next, DOMAINS)}` };
  };
}

const DEVICE_NAMES = [
  (u: string) => `${u}'s MacBook Pro`,
  (u: string) => `${u}-laptop`,
  () => 'ThinkPad X1 Carbon',
  () => 'Work PC',
  () => 'Домашний ноутбук',
  (u: string) => `${u} desktop`,
  () => 'Mac mini',
  () => 'Surface Pro',
];

export function deviceName(next: Random, username: string): string {
  if (next() < 0.2) return `DESKTOP-${hexOf(next, 4).toUpperCase().slice(0, 7)}`;
  return pick(next, DEVICE_NAMES)(username);
}

export const CLIENT_VERSIONS = [
  'verstak-desktop/1.2.0',
  'verstak-desktop/1.3.1',
  'verstak-desktop/1.4.0',
  'verstak-desktop/1.4.2',
  'verstak-desktop/1.5.0-beta.2',
];

/** Later devices tend to run later versions. */
export const clientVersion = (next: Random, ageShare: number) =>
  CLIENT_VERSIONS[
    Math.min(
      CLIENT_VERSIONS.length - 1,
      Math.floor((1 - ageShare) * CLIENT_VERSIONS.length * 0.8 + next() * 2),
    )
  ]!;

const VAULT_NAMES = ['notes', 'work', 'personal', 'research', 'journal', 'заметки', 'thesis'];
export const vaultNames = (next: Random, count: number) => {
  const first = pick(next, VAULT_NAMES);
  const names = [first];
  while (names.length < count) {
    const more = pick(next, VAULT_NAMES);
    if (!names.includes(more)) names.push(more);
  }
  return next() < 0.3 ? names.map((n) => `${n}-${2023 + Math.floor(next() * 3)}`) : names;
};

const FOLDERS = ['Inbox', 'Projects', 'Journal', 'Reading', 'Meetings', 'Archive', 'Заметки'];
const WORDS = ['plan', 'ideas', 'draft', 'review', 'notes', 'todo', 'summary', 'обзор', 'list'];
const LOREM =
  'Met with the team about the release. Follow up on the open questions, check the ' +
  'figures again and write the summary. Встреча прошла хорошо, следующий шаг — черновик. ';

/**
 * One vault's edits in push order, as the desktop's scanner pushes them: folder creates,
 * then notes created, updated most of the time, sometimes deleted and re-created.
 */
export function createVaultEditor(next: Random) {
  const folders: string[] = [];
  const live: string[] = [];
  const deleted: string[] = [];
  const revisions = new Map<string, number>();
  let notes = 0;
  const folderCount = 1 + Math.floor(next() * 5);
  const write = (path: string, opType: string) => {
    const revision = (revisions.get(path) ?? 0) + 1;
    revisions.set(path, revision);
    const length = 120 + Math.floor(next() * 300);
    const content = `# ${path}\n\nrevision ${revision}\n\n${LOREM.repeat(4).slice(0, length)}`;
    const contentHash = hash('sha256', content, 'hex');
    const payload = JSON.stringify({ path, contentHash, content });
    return { entity_type: 'file', entity_id: path, op_type: opType, payload_json: payload };
  };
  return () => {
    if (folders.length < folderCount) {
      const path =
        folders.length === 0 ? pick(next, FOLDERS) : `${pick(next, FOLDERS)}/${folders.length}`;
      folders.push(path);
      const payload = JSON.stringify({ path, contentHash: '' });
      return { entity_type: 'folder', entity_id: path, op_type: 'create', payload_json: payload };
    }
    const r = next();
    if (live.length < 5 || r < 0.12) {
      notes += 1;
      const path = `${pick(next, folders)}/${pick(next, WORDS)}-${notes}.md`;
      live.push(path);
      return write(path, 'create');
    }
    if (r < 0.16 && deleted.length > 0) {
      const path = deleted.shift()!;
      live.push(path);
      return write(path, 'create');
    }
    const at = Math.floor(next() * live.length);
    const path = live[at]!;
    if (r < 0.2) {
      live[at] = live[live.length - 1]!;
      live.pop();
      deleted.push(path);
      return {
        entity_type: 'file',
        entity_id: path,
        op_type: 'delete',
        payload_json: JSON.stringify({ path }),
      };
    }
    return write(path, 'update');
  };
}
