import { expect } from 'vitest';
import type { Decider } from '../../src/commands/decider.js';
import { AppError } from '../../src/errors.js';
import type { DomainEvent } from '../../src/log/index.js';

/**
 * given(history).when(command).then(events): folds the history with `evolve`, runs
 * `decide`, and asserts only on what comes out (events or the AppError), never on state.
 */
export function deciderSpec<S, C, E extends DomainEvent>(decider: Decider<S, C, E>) {
  return {
    given(history: readonly E[]) {
      return {
        when(command: C) {
          const run = () =>
            decider.decide(
              command,
              history.reduce(
                (state, event) => decider.evolve(state, event),
                decider.initialState(),
              ),
            );
          return {
            then(expected: readonly E[]) {
              // toStrictEqual: an extra field (even one holding undefined) must not reach the log.
              expect(run()).toStrictEqual(expected);
            },
            thenThrows(expected: { status: number; code: string }) {
              let thrown: unknown;
              try {
                run();
              } catch (err) {
                thrown = err;
              }
              expect(thrown, 'decide should have thrown').toBeInstanceOf(AppError);
              const err = thrown as AppError;
              expect({ status: err.status, code: err.code }).toEqual(expected);
            },
          };
        },
      };
    },
  };
}
