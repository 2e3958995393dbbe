import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CATALOGUE,
  createEventStore,
  inWriteTransaction,
  migrateLog,
  openDatabase,
  type DomainEvent,
} from '../../src/log/index.js';

export interface Ceiling {
  /** Hash-chained OperationPushed appends, 100 per fsynced commit, no HTTP, no projections. */
  readonly appendOpsPerSec: number;
  /** Reads of a vault's stream by sequence, 100 rows a query, straight from better-sqlite3. */
  readonly readOpsPerSec: number;
}

const op = (n: number, filler: string): DomainEvent => ({
  type: 'OperationPushed',
  data: {
    client_sequence: n,
    last_seen_server_seq: 0,
    conflicts: [],
    op: {
      op_id: `ceiling-${n}`,
      device_id: 'dev_ceiling',
      entity_type: 'file',
      entity_id: `notes/${n % 500}.md`,
      op_type: 'update',
      payload_json: JSON.stringify({ path: `n/${n}.md`, content: filler }),
      created_at: '2026-11-26T10:00:00Z',
    },
  },
});

/**
 * The in-process ceiling the HTTP figures are compared with, measured on the same machine
 * in the same run (disk sync times vary a lot between runs here).
 */
export function measureCeiling(seconds: number, payloadBytes: number): Ceiling {
  const dir = mkdtempSync(join(tmpdir(), 'vss-ceiling-'));
  const db = openDatabase(join(dir, 'server.db'));
  try {
    migrateLog(db, () => 'ceiling');
    const store = createEventStore(db, CATALOGUE);
    const filler = 'x'.repeat(Math.max(0, payloadBytes - 40));
    const stream = 'vault/ceiling/v';
    let n = 0;
    const started = performance.now();
    while (performance.now() - started < seconds * 1000) {
      const events: DomainEvent[] = [];
      for (let i = 0; i < 100; i++) events.push(op(n++, filler));
      inWriteTransaction(db, () =>
        store.append([{ stream, events }], { actor: 'bench' }, new Date()),
      );
    }
    const appendOpsPerSec = n / ((performance.now() - started) / 1000);
    // The fastest form the server itself uses: rows as arrays, a LIMIT SQLite does not
    // re-prepare for.
    const page = db
      .prepare('SELECT seq, data FROM events WHERE stream = ? AND seq > ? ORDER BY seq LIMIT ? + 0')
      .raw(true);
    let read = 0;
    let cursor = 0;
    const readStart = performance.now();
    for (;;) {
      const rows = page.all(stream, cursor, 100) as [number, string][];
      if (rows.length === 0) break;
      read += rows.length;
      cursor = rows[rows.length - 1]![0];
    }
    return { appendOpsPerSec, readOpsPerSec: read / ((performance.now() - readStart) / 1000) };
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
