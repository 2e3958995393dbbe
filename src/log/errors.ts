/** The stream's version differed from the one the caller expected; nothing was written. */
export class ConcurrencyError extends Error {
  constructor(
    readonly stream: string,
    readonly expected: number,
    readonly actual: number,
  ) {
    super(`stream ${stream} is at version ${actual}, expected ${expected}`);
    this.name = 'ConcurrencyError';
  }
}

/** A stored event could not be read back with any known schema. */
export class EventDecodeError extends Error {
  constructor(
    readonly seq: number,
    message: string,
  ) {
    super(`event ${seq}: ${message}`);
    this.name = 'EventDecodeError';
  }
}

/**
 * A stored event's data no longer matches the digest its chain covers (a damaged page, an
 * edit), or a vault's stream has lost rows: it must not be served as if intact. `verify`
 * names every such event (a lost index entry through SQLite's integrity_check).
 */
export class DamagedEventError extends Error {
  constructor(
    readonly seq: number,
    why = 'stored data does not match its data_hash',
  ) {
    super(`event ${seq}: ${why}`);
    this.name = 'DamagedEventError';
  }

  /** A stream's versions skip or go back at `seq`: a row before it is hidden or damaged. */
  static versionGap(seq: number, found: unknown, due: number | undefined): DamagedEventError {
    return new DamagedEventError(
      seq,
      `the vault's stream goes on at version ${String(found)} where ${String(due)} was due: a row is missing or damaged`,
    );
  }

  /** A stream read to its end never reached the vault's newest op, `head`. */
  static cutShort(head: number): DamagedEventError {
    return new DamagedEventError(head, "the vault's stream ends before this, its newest op");
  }
}
