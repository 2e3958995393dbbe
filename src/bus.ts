import mittModule from 'mitt';
import type { RecordedEvent } from './log/index.js';

type BusEvents = {
  /** Events whose transaction has committed; best effort, in-process only. */
  committed: readonly RecordedEvent[];
};

// mitt's typings are CommonJS while Node loads its ESM build, whose default export is the function.
const mitt = mittModule as unknown as typeof mittModule.default;

export type Bus = ReturnType<typeof createBus>;

export function createBus() {
  return mitt<BusEvents>();
}
