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
}

export type CommandHandler = ReturnType<typeof createCommandHandler>;

/**
 * The only code that reads a stream, decides and appends. One BEGIN IMMEDIATE
 * transaction covers load, decide, append and every projection, so a read right after
 * a command sees its effect; committed events are then announced on the bus.
 */
export function createCommandHandler(deps: {
  db: Sqlite;
  store: EventStore;
  projector: Projector;
  bus: Bus;
  clock: Clock;
}) {
  const { db, store, projector, bus, clock } = deps;
  return function handle<State, Command, Event extends DomainEvent>(
    args: HandleArgs<State, Command, Event>,
  ): RecordedEvent<Event>[] {
    if (db.inTransaction) throw new Error('handle() must not run inside another transaction');
    const recorded = inWriteTransaction(db, () => {
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
      return appended;
    });
    if (recorded.length > 0) bus.emit('committed', recorded);
    return recorded as RecordedEvent<Event>[];
  };
}
