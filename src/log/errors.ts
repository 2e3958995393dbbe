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
 * edit): it must not be served as if intact. `verify` names every such event.
 */
export class DamagedEventError extends Error {
  constructor(
    readonly seq: number,
    why = 'stored data does not match its data_hash',
  ) {
    super(`event ${seq}: ${why}`);
    this.name = 'DamagedEventError';
  }
}
