import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import Database from 'better-sqlite3';

/** A SQLite varint at `at`: its value and its length in bytes. */
function varint(buf: Buffer, at: number): { value: number; length: number } {
  let value = 0;
  for (let i = 0; i < 8; i++) {
    const byte = buf[at + i]!;
    value = value * 128 + (byte & 0x7f);
    if (byte < 0x80) return { value, length: i + 1 };
  }
  return { value: value * 256 + buf[at + 8]!, length: 9 };
}

/** Serial types that need no bytes of the record's body: every column reads as this value. */
export const SERIAL_TYPE = { null: 0, zero: 8, one: 9 } as const;

/**
 * Overwrites the serial types in the record header of one row of a rowid table, in a
 * closed database file: every column of the row then reads as NULL (or 0, or 1) while the
 * row, its rowid and the table's index entries stay where they were. It is the damage a few
 * zero bytes at the start of a cell leave, which SQLite reads without an error.
 */
export function damageRecordHeader(
  file: string,
  table: string,
  rowid: number,
  serialType: number = SERIAL_TYPE.null,
): void {
  const db = new Database(file, { readonly: true });
  const pageSize = db.pragma('page_size', { simple: true }) as number;
  const leaves = db
    .prepare("SELECT pageno FROM dbstat WHERE name = ? AND pagetype = 'leaf'")
    .pluck()
    .all(table) as number[];
  db.close();
  const fd = openSync(file, 'r+');
  try {
    const page = Buffer.alloc(pageSize);
    for (const pageno of leaves) {
      readSync(fd, page, 0, pageSize, (pageno - 1) * pageSize);
      const header = pageno === 1 ? 100 : 0;
      const cells = page.readUInt16BE(header + 3);
      for (let c = 0; c < cells; c++) {
        let at = page.readUInt16BE(header + 8 + c * 2);
        at += varint(page, at).length;
        const key = varint(page, at);
        if (key.value !== rowid) continue;
        at += key.length;
        const size = varint(page, at);
        page.fill(serialType, at + size.length, at + size.value);
        writeSync(fd, page, 0, pageSize, (pageno - 1) * pageSize);
        return;
      }
    }
  } finally {
    closeSync(fd);
  }
  throw new Error(`no row ${rowid} in a leaf page of ${table}`);
}
