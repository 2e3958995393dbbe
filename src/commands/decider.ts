import type { DomainEvent } from '../log/index.js';

/** Pure business logic of one aggregate: no I/O, no clock, no randomness. */
export interface Decider<State, Command, Event extends DomainEvent> {
  initialState(): State;
  evolve(state: State, event: Event): State;
  /** Throws AppError for a broken invariant; returns [] for a no-op. */
  decide(command: Command, state: State): Event[];
}
