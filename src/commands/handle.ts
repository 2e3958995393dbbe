import type { Bus } from '../bus.js';
import type { Clock } from '../clock.js';
import {
  inWriteTransaction,
  type DomainEvent,
  type EventMeta,
  type EventStore,
  type RecordedEvent,
  type Sqlite,
} from '../log/index.js';
import type { Projector } from '../projections/projector.js';
import type { Decider } from './decider.js';

export interface HandleArgs<State, Command, Event extends DomainEvent> {
  readonly stream: string;
  readonly decider: Decider<State, Command, Event>;
  /** The command, or a function building it from projections inside the transaction. */
  readonly command: Command | ((db: Sqlite) => Command);
  readonly meta: EventMeta;
  /** When the client named a version (If-Match); otherwise the version read here. */
  readonly expectedVersion?: number;
  /**
   * For aggregates whose streams grow without bound (a vault's operations), the state
   * comes from projections instead of folding the whole stream.
   */
  readonly loadState?: (db: Sqlite) => State;
  /**
   * Writes rows that must commit with the events but are not derived from them, e.g. an
   * outbox mail carrying a token that the log only holds as a digest. Runs only for
   * commands executed live, never on replay.
   */
  readonly sideEffects?: (db: Sqlite, events: readonly RecordedEvent<Event>[]) => void;
}

interface Job {
  readonly args: HandleArgs<unknown, unknown, DomainEvent>;
  readonly resolve: (events: RecordedEvent[]) => void;
  readonly reject: (err: unknown) => void;
  outcome?: { events: RecordedEvent[] } | { error: unknown };
}

/** Commands committed together by one group commit: bounds how long one flush holds the loop. */
const MAX_GROUP = 16;

export type CommandHandler = ReturnType<typeof createCommandHandler>;

/**
 * The only code that reads a stream, decides and appends. One transaction covers load,
 * decide, append and every projection, so a read right after a command sees its effect;
 * committed events are then announced on the bus.
 */
export function createCommandHandler(deps: {
  db: Sqlite;
  store: EventStore;
  projector: Projector;
  bus: Bus;
  clock: Clock;
}) {
  const { db, store, projector, bus, clock } = deps;

  const execute = <State, Command, Event extends DomainEvent>(
    args: HandleArgs<State, Command, Event>,
  ): RecordedEvent[] => {
    const version = store.streamVersion(args.stream);
    const state = args.loadState
      ? args.loadState(db)
      : store
          .readStream(args.stream)
          .reduce(
            (s, e) => args.decider.evolve(s, e as unknown as Event),
            args.decider.initialState(),
          );
    const command =
      typeof args.command === 'function'
        ? (args.command as (db: Sqlite) => Command)(db)
        : args.command;
    const events = args.decider.decide(command, state);
    if (events.length === 0) return [];
    const appended = store.append(
      [{ stream: args.stream, expectedVersion: args.expectedVersion ?? version, events }],
      args.meta,
      clock.now(),
    );
    projector.apply(appended);
    args.sideEffects?.(db, appended as RecordedEvent<Event>[]);
    return appended;
  };

  let queue: Job[] = [];
  let scheduled = false;

  // Each job runs in its own savepoint, so a refused command leaves the others intact;
  // all of them share one commit and so one fsync.
  const flush = () => {
    scheduled = false;
    const jobs = queue.slice(0, MAX_GROUP);
    queue = queue.slice(MAX_GROUP);
    if (queue.length > 0) schedule();
    let aborted: unknown;
    try {
      inWriteTransaction(db, () => {
        for (const job of jobs) {
          try {
            job.outcome = { events: db.transaction(() => execute(job.args))() };
          } catch (error) {
            job.outcome = { error };
            // Some errors (SQLITE_FULL, I/O) make SQLite roll back the whole transaction.
            if (!db.inTransaction) {
              aborted = error;
              throw error;
            }
          }
        }
      });
    } catch (error) {
      for (const job of jobs) job.outcome = { error: aborted ?? error };
    }
    bus.emit('grouped', jobs.length);
    for (const job of jobs) {
      const outcome = job.outcome!;
      if ('error' in outcome) {
        job.reject(outcome.error);
      } else {
        if (outcome.events.length > 0) bus.emit('committed', outcome.events);
        job.resolve(outcome.events);
      }
    }
  };
  const schedule = () => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(flush);
  };

  return {
    /** Runs a command now, in its own BEGIN IMMEDIATE transaction. */
    handle<State, Command, Event extends DomainEvent>(
      this: void,
      args: HandleArgs<State, Command, Event>,
    ): RecordedEvent<Event>[] {
      if (db.inTransaction) throw new Error('handle() must not run inside another transaction');
      const recorded = inWriteTransaction(db, () => execute(args));
      if (recorded.length > 0) bus.emit('committed', recorded);
      return recorded as RecordedEvent<Event>[];
    },

    /**
     * Queues a command for the next group commit: requests that arrive while a commit is
     * being fsynced are committed together, so concurrent pushes share one fsync. The
     * promise settles only after the commit is durable.
     */
    enqueue<State, Command, Event extends DomainEvent>(
      this: void,
      args: HandleArgs<State, Command, Event>,
    ): Promise<RecordedEvent<Event>[]> {
      return new Promise((resolve, reject) => {
        queue.push({
          args: args as unknown as HandleArgs<unknown, unknown, DomainEvent>,
          resolve: resolve as (events: RecordedEvent[]) => void,
          reject,
        });
        schedule();
      });
    },
  };
}
