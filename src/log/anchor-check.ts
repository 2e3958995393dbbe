import type { Sqlite } from './database.js';
import { macMatches, readAnchorFile, type Anchor, type AnchorKey } from './anchor.js';

/** The anchor key as this process can read it; `problem` says why there is none. */
export type AnchorKeyState =
  | { readonly key: AnchorKey }
  | { readonly key?: undefined; readonly file: string; readonly problem: string };

export type AnchorFindingCode =
  | 'missing'
  | 'unanchored_after_crash'
  | 'truncated'
  | 'rechained'
  | 'appended_after_close'
  | 'forged'
  | 'other_key'
  | 'no_key'
  | 'other_epoch';

export interface AnchorFinding {
  /** A failure means the log cannot be trusted; a note is worth knowing only. */
  readonly level: 'failure' | 'note';
  readonly code: AnchorFindingCode;
  readonly message: string;
}

export interface AnchorCheck {
  /** The anchor on file when its MAC verified. */
  readonly anchor?: Anchor;
  readonly head: number;
  readonly findings: readonly AnchorFinding[];
}

const RUN_WITH_KEY =
  'run it with the key the server uses: `sudo systemd-run --pipe --wait --quiet -p User=verstak -p LoadCredential=smtp-key:/etc/verstak-server/secret.key verstak-sync-server ...`, or put that key back at <data>/secret.key';

const hasTable = (db: Sqlite, name: string) =>
  db
    .prepare("SELECT 1 FROM sqlite_master WHERE type IN ('table', 'view') AND name = ?")
    .get(name) !== undefined;

function epochOf(db: Sqlite): string {
  if (!hasTable(db, 'log_info')) return '';
  const value = db.prepare("SELECT value FROM log_info WHERE key = 'epoch'").pluck().get();
  return typeof value === 'string' ? value : '';
}

const failure = (code: AnchorFindingCode, message: string): AnchorFinding => ({
  level: 'failure',
  code,
  message,
});

/**
 * Compares the log with its anchor (anchor.ts): the one check `verify`, the start-up check
 * and every runtime make. Reads the head and one row; the chain itself is verify's. A
 * re-chained edit anywhere at or before the anchored seq changes the hash stored there, so
 * only someone holding the key can truncate, re-chain or append past a clean close unseen.
 */
export function checkAnchor(db: Sqlite, file: string, keyState: AnchorKeyState): AnchorCheck {
  const hasEvents = hasTable(db, 'events');
  const headRow = hasEvents
    ? (db.prepare('SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1').get() as
        { seq: number; hash: string } | undefined)
    : undefined;
  const head = headRow?.seq ?? 0;
  const read = readAnchorFile(file);
  if (read.kind === 'missing') {
    const findings: AnchorFinding[] =
      head === 0
        ? []
        : [
            {
              level: 'note',
              code: 'missing',
              message: `no anchor file ${file} for a log that ends at seq ${head}: the log is trusted as found and anchored by the next process that writes it (trust on first use)`,
            },
          ];
    return { head, findings };
  }
  if (read.kind === 'damaged') {
    return {
      head,
      findings: [failure('forged', `anchor file forged or damaged: ${file} (${read.reason})`)],
    };
  }
  const { anchor } = read;
  if (!keyState.key) {
    return {
      head,
      findings: [
        failure(
          'no_key',
          `${file} was made with key ${anchor.key_id}, but this process cannot read a key (${keyState.problem}): ${RUN_WITH_KEY}`,
        ),
      ],
    };
  }
  const { key } = keyState;
  if (anchor.key_id !== key.id) {
    return {
      head,
      findings: [
        failure(
          'other_key',
          `${file} was made with key ${anchor.key_id}, but ${key.file} holds key ${key.id}: ${RUN_WITH_KEY}; if the key was replaced on purpose, run verify and, when the chain is intact, delete ${file} so that the log is anchored again with the new key`,
        ),
      ],
    };
  }
  if (!macMatches(key, anchor)) {
    return {
      head,
      findings: [
        failure('forged', `anchor file forged or damaged: the MAC of ${file} does not verify`),
      ],
    };
  }
  const epoch = epochOf(db);
  if (anchor.epoch !== epoch) {
    return {
      anchor,
      head,
      findings: [
        failure(
          'other_epoch',
          `the anchor belongs to log epoch ${anchor.epoch}, the log is epoch ${epoch || '(none)'}: the database was replaced (by a copy or an older backup, not by restore)`,
        ),
      ],
    };
  }
  return { anchor, head, findings: compareWithLog(db, anchor, head) };
}

function compareWithLog(db: Sqlite, anchor: Anchor, head: number): AnchorFinding[] {
  const n = anchor.seq;
  if (head < n) {
    return [failure('truncated', `truncated: the anchor names seq ${n}, the log ends at ${head}`)];
  }
  if (n > 0) {
    const stored = db.prepare('SELECT hash FROM events WHERE seq = ?').pluck().get(n) as
      string | undefined;
    if (stored !== anchor.hash) {
      return [
        failure(
          'rechained',
          `re-chained or edited at or before seq ${n}: its chain hash is not the one anchored at ${anchor.at}`,
        ),
      ];
    }
  }
  if (head === n) return [];
  const after = db.prepare('SELECT count(*) FROM events WHERE seq > ?').pluck().get(n) as number;
  if (anchor.state === 'closed') {
    return [
      failure(
        'appended_after_close',
        `${after} event(s) after the clean-shutdown anchor at seq ${n} were appended without the key (seq ${n + 1}..${head})`,
      ),
    ];
  }
  return [
    {
      level: 'note',
      code: 'unanchored_after_crash',
      message: `${after} event(s) after the last anchor at seq ${n} (seq ${n + 1}..${head}) are chained but not anchored: the process that wrote them stopped without a clean close`,
    },
  ];
}
