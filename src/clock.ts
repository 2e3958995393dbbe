export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/** A clock tests and replays can move by hand. */
export function createManualClock(start: Date | string) {
  let current = new Date(start).getTime();
  return {
    now: () => new Date(current),
    advance(ms: number) {
      current += ms;
    },
    set(to: Date | string) {
      current = new Date(to).getTime();
    },
  };
}
