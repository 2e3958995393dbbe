import { fc, test } from '@fast-check/vitest';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  CATALOGUE,
  createCatalogue,
  defineEvent,
  EventDecodeError,
  sha256Hex,
  type Sqlite,
} from '../../src/log/index.js';
import { AT, META, openLog } from '../helpers/log.js';

// A test-local event whose shape changed once: v1 had a free-form `name`, v2 has a
// non-empty `title` and a URL-safe `slug`. The upcaster has to cope with every v1 value.
const NoteRenamedV1 = z.object({ noteId: z.string(), name: z.string() });

const slugOf = (text: string) =>
  text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');

const NoteRenamed = defineEvent(
  'NoteRenamed',
  z.object({
    noteId: z.string(),
    title: z.string().min(1),
    slug: z.string().regex(/^[a-z0-9-]*$/),
  }),
  {
    version: 2,
    history: [
      {
        version: 1,
        schema: NoteRenamedV1,
        upcast: (v1: z.infer<typeof NoteRenamedV1>) => ({
          noteId: v1.noteId,
          title: v1.name.trim() === '' ? 'Untitled' : v1.name,
          slug: slugOf(v1.name),
        }),
      },
    ],
  },
);

const catalogue = createCatalogue([NoteRenamed]);

let opened: Sqlite[] = [];
afterEach(() => {
  for (const db of opened) db.close();
  opened = [];
});
const freshLog = () => {
  const log = openLog(catalogue);
  opened.push(log.db);
  return log;
};

/** Stores a row as an older server would have written it (the chain is not the subject). */
const insertRaw = (db: Sqlite, seq: number, schemaVersion: number, data: unknown) => {
  const text = JSON.stringify(data);
  db.prepare(
    `INSERT INTO events (seq, stream, version, type, schema_version, data, data_hash, meta, at, hash)
     VALUES (?, ?, ?, 'NoteRenamed', ?, ?, ?, ?, ?, ?)`,
  ).run(
    seq,
    'note/n1',
    seq,
    schemaVersion,
    text,
    sha256Hex(text),
    JSON.stringify(META),
    AT.toISOString(),
    'x',
  );
};

describe('upcasting', () => {
  it('reads a row stored as v1 back in the current shape', () => {
    const { db, store } = freshLog();
    insertRaw(db, 1, 1, { noteId: 'n1', name: 'Shopping List' });
    const expected = { noteId: 'n1', title: 'Shopping List', slug: 'shopping-list' };
    expect(store.readStream('note/n1')[0]?.data).toEqual(expected);
    expect(store.readRange(0, 10)[0]).toMatchObject({
      seq: 1,
      type: 'NoteRenamed',
      data: expected,
    });
  });

  it('writes new events at the current schema version', () => {
    const { db, store } = freshLog();
    const event = { type: 'NoteRenamed', data: { noteId: 'n1', title: 'T', slug: 't' } } as never;
    store.append([{ stream: 'note/n1', events: [event] }], META, AT);
    expect(db.prepare('SELECT schema_version FROM events').pluck().get()).toBe(2);
  });

  it('refuses to decode a v1 row that its own v1 schema rejects', () => {
    const { db, store } = freshLog();
    insertRaw(db, 1, 1, { noteId: 'n1', title: 'already v2 shaped' });
    expect(() => store.readRange(0, 10)).toThrow(EventDecodeError);
  });

  it('refuses a row written by a newer server', () => {
    const { db, store } = freshLog();
    insertRaw(db, 1, 3, { noteId: 'n1', title: 'T', slug: 't' });
    expect(() => store.readRange(0, 10)).toThrow(/newer than this server/);
  });

  it('has an upcaster for every older version of every real event type', () => {
    for (const type of CATALOGUE.types) {
      const definition = CATALOGUE.find(type)!;
      const covered = definition.history.map((h) => h.version).sort((a, b) => a - b);
      expect(covered, type).toEqual(
        Array.from({ length: definition.version - 1 }, (_, i) => i + 1),
      );
    }
  });

  test.prop([fc.record({ noteId: fc.string(), name: fc.string() })])(
    'every value the v1 schema accepts upcasts to one the current schema accepts',
    (v1) => {
      expect(NoteRenamedV1.safeParse(v1).success).toBe(true);
      const current = catalogue.decode('NoteRenamed', 1, v1);
      expect(NoteRenamed.schema.safeParse(current).success).toBe(true);
    },
  );

  test.prop([fc.record({ noteId: fc.string(), name: fc.string() })])(
    'a stored v1 row survives the JSON round trip and decodes like the value itself',
    (v1) => {
      const { db, store } = freshLog();
      insertRaw(db, 1, 1, v1);
      expect(store.readRange(0, 1)[0]?.data).toEqual(catalogue.decode('NoteRenamed', 1, v1));
    },
  );
});
