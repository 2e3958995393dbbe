import mittModule from 'mitt';
import type { RecordedEvent } from './log/index.js';

type BusEvents = {
  /** Events whose transaction has committed; best effort, in-process only. */
  committed: readonly RecordedEvent[];
  /** A group commit (commands/handle.ts) has committed this many queued commands at once. */
  grouped: number;
};

// mitt's typings are CommonJS while Node loads its ESM build, whose default export is the function.
const mitt = mittModule as unknown as typeof mittModule.default;

export type Bus = ReturnType<typeof createBus>;

/**
 * Listeners react after the commit; one that throws must neither stop the others nor make
 * the command that committed look failed, so each runs on its own and its error becomes a
 * process warning.
 */
export function createBus(onListenerError: (err: unknown) => void = reportListenerError) {
  const bus = mitt<BusEvents>();
  return {
    ...bus,
    emit<K extends keyof BusEvents>(type: K, payload: BusEvents[K]): void {
      for (const listener of [...(bus.all.get(type) ?? [])]) {
        try {
          (listener as (event: BusEvents[K]) => void)(payload);
        } catch (err) {
          onListenerError(err);
        }
      }
    },
  };
}

function reportListenerError(err: unknown): void {
  process.emitWarning(err instanceof Error ? err : new Error(String(err)), 'BusListenerError');
}
