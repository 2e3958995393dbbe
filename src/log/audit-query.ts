import type { Statement } from 'better-sqlite3';
import type { Catalogue } from './catalogue.js';
import type { Sqlite } from './database.js';
import type { EventRow } from './event-store.js';

/** What an operator asks of the log; every field narrows the result. */
export interface AuditFilter {
  readonly types?: readonly string[];
  readonly stream?: string;
  /** Events of the stream `user/<id>` or whose data has `userId === id`. */
  readonly userId?: string;
  /** Events of the stream `device/<id>` or whose data has `deviceId === id`. */
  readonly deviceId?: string;
  /** Inclusive lower bound on `at`, ISO-8601 UTC with milliseconds. */
  readonly since?: string;
  /** Exclusive upper bound on `at`. */
  readonly until?: string;
}

/** One event as operator tools show it: secrets replaced by `<redacted>`. */
export interface AuditEntry {
  readonly seq: number;
  readonly at: string;
  readonly type: string;
  readonly stream: string;
  readonly data: unknown;
  readonly meta: unknown;
}

export const REDACTED = '<redacted>';

// Every clause is a constant; values only ever travel as bound parameters. CASE guards
// json_extract, which raises on a payload that is not JSON (a redacted or damaged row).
const CLAUSES = {
  types: 'type IN (SELECT value FROM json_each(?))',
  stream: 'stream = ?',
  userId: "(stream = ? OR CASE WHEN json_valid(data) THEN json_extract(data, '$.userId') END = ?)",
  deviceId:
    "(stream = ? OR CASE WHEN json_valid(data) THEN json_extract(data, '$.deviceId') END = ?)",
  since: 'at >= ?',
  until: 'at < ?',
} as const satisfies Record<keyof AuditFilter, string>;

type Param = string | number;

function clausesOf(filter: AuditFilter): { keys: (keyof AuditFilter)[]; params: Param[] } {
  const keys: (keyof AuditFilter)[] = [];
  const params: Param[] = [];
  if (filter.types && filter.types.length > 0) {
    keys.push('types');
    params.push(JSON.stringify(filter.types));
  }
  if (filter.stream !== undefined) {
    keys.push('stream');
    params.push(filter.stream);
  }
  if (filter.userId !== undefined) {
    keys.push('userId');
    params.push(`user/${filter.userId}`, filter.userId);
  }
  if (filter.deviceId !== undefined) {
    keys.push('deviceId');
    params.push(`device/${filter.deviceId}`, filter.deviceId);
  }
  if (filter.since !== undefined) {
    keys.push('since');
    params.push(filter.since);
  }
  if (filter.until !== undefined) {
    keys.push('until');
    params.push(filter.until);
  }
  return { keys, params };
}

export interface AuditQuery {
  /** Up to `limit` raw rows matching `filter` with seq > afterSeq, in seq order. */
  page(filter: AuditFilter, afterSeq: number, limit: number): EventRow[];
}

export function createAuditQuery(db: Sqlite): AuditQuery {
  const statements = new Map<string, Statement<Param[]>>();
  return {
    page(filter, afterSeq, limit) {
      const { keys, params } = clausesOf(filter);
      const key = keys.join(',');
      let stmt = statements.get(key);
      if (!stmt) {
        const where = ['seq > ?', ...keys.map((k) => CLAUSES[k])].join(' AND ');
        stmt = db.prepare(`SELECT * FROM events WHERE ${where} ORDER BY seq LIMIT ? + 0`);
        statements.set(key, stmt);
      }
      return stmt.all(...[afterSeq, ...params, limit]) as EventRow[];
    },
  };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/**
 * The stored data and meta of a row, with the fields its event type lists in `redact`
 * replaced. Shows the data as stored (not upcast): the audit shows what the log holds.
 */
export function toAuditEntry(row: EventRow, catalogue: Catalogue): AuditEntry {
  let data = parseJson(row.data);
  const redact = catalogue.find(row.type)?.redact ?? [];
  if (redact.length > 0) {
    if (data !== null && typeof data === 'object' && !Array.isArray(data)) {
      const copy: Record<string, unknown> = { ...(data as Record<string, unknown>) };
      for (const field of redact) if (field in copy) copy[field] = REDACTED;
      data = copy;
    } else {
      // Not the shape its schema promises: it may hold the secret anywhere.
      data = REDACTED;
    }
  }
  return {
    seq: row.seq,
    at: row.at,
    type: row.type,
    stream: row.stream,
    data,
    meta: parseJson(row.meta),
  };
}
