import {
  CATALOGUE,
  createAuditQuery,
  toAuditEntry,
  type AuditEntry,
  type AuditFilter,
} from '../log/index.js';
import { withRuntime } from './data-dir.js';
import { formatTableLine, printErr, printJsonLine, printOut } from './output.js';

export interface AuditOptions {
  data?: string;
  type?: string;
  stream?: string;
  user?: string;
  device?: string;
  sinceSeq?: number;
  since?: string;
  until?: string;
  limit?: number;
  json?: boolean;
  follow?: boolean;
}

const PAGE = 1000;
const POLL_MS = 500;

function parseTypes(value: string): string[] {
  const types = value
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t !== '');
  const unknown = types.filter((t) => CATALOGUE.find(t) === undefined);
  if (unknown.length > 0) {
    throw new Error(
      `unknown event type ${unknown.join(', ')} (known: ${CATALOGUE.types.join(', ')})`,
    );
  }
  return types;
}

function filterOf(opts: AuditOptions): AuditFilter {
  return {
    types: opts.type !== undefined ? parseTypes(opts.type) : undefined,
    stream: opts.stream,
    userId: opts.user,
    deviceId: opts.device,
    since: opts.since,
    until: opts.until,
  };
}

function tablePrinter() {
  let headerDone = false;
  // Fixed widths rather than formatTable's: --follow prints rows before it has seen them all.
  const line = (cells: readonly string[]) => formatTableLine(cells, [6, 24, 18, 34, 7], ' ');
  return (e: AuditEntry) => {
    if (!headerDone) {
      printOut(line(['SEQ', 'AT', 'TYPE', 'STREAM', 'ACTOR', 'DATA']));
      headerDone = true;
    }
    const actor = (e.meta as { actor?: unknown } | null)?.actor;
    printOut(
      line([
        String(e.seq),
        e.at,
        e.type,
        e.stream,
        typeof actor === 'string' ? actor : '-',
        JSON.stringify(e.data),
      ]),
    );
  };
}

/** Polls until SIGINT or SIGTERM, or until `poll` says it is done. */
function pollUntilStopped(poll: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    const stop = () => {
      clearTimeout(timer);
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    const tick = () => {
      if (poll()) stop();
      else timer = setTimeout(tick, POLL_MS);
    };
    tick();
  });
}

export async function audit(opts: AuditOptions): Promise<void> {
  const filter = filterOf(opts);
  // A reader that went away (`audit | head`) ends the command quietly.
  let readerGone = false;
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
    readerGone = true;
  });
  await withRuntime(opts, async (runtime) => {
    const query = createAuditQuery(runtime.db);
    const print = opts.json ? (e: AuditEntry) => printJsonLine(e) : tablePrinter();
    let after = opts.sinceSeq ?? 0;
    let remaining = opts.limit ?? Number.POSITIVE_INFINITY;
    let printed = 0;
    const drain = () => {
      while (remaining > 0 && !readerGone) {
        const rows = query.page(filter, after, Math.min(PAGE, remaining));
        if (rows.length === 0) break;
        for (const row of rows) print(toAuditEntry(row, CATALOGUE));
        after = rows[rows.length - 1]!.seq;
        remaining -= rows.length;
        printed += rows.length;
      }
      return remaining <= 0 || readerGone;
    };
    if (opts.follow) await pollUntilStopped(drain);
    else drain();
    if (printed === 0 && !opts.json && !opts.follow) printErr('no matching events\n');
  });
}
