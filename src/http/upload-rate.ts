export interface UploadRate {
  /** At least this many bytes a second, averaged over each window. */
  readonly minBytesPerSecond: number;
  readonly windowMs: number;
}

export interface RateWatch {
  count(bytes: number): void;
  stop(): void;
}

/**
 * Calls `onTooSlow` at the end of the first window that brought fewer bytes than the
 * rate asks for. A stall timer alone is defeated by one byte every few seconds, and a
 * whole-upload average by a fast start followed by a trickle; every window must carry
 * its share, so holding a connection costs an attacker real bandwidth. The windows need
 * no declared length, so chunked uploads are held to the same rate.
 */
export function watchUploadRate(rate: UploadRate, onTooSlow: () => void): RateWatch {
  const needed = (rate.minBytesPerSecond * rate.windowMs) / 1000;
  let inWindow = 0;
  let judging: NodeJS.Immediate | undefined;
  const timer = setInterval(() => {
    // Judged after the poll phase: bytes that arrived while the event loop was busy (the
    // server's delay, not the client's) are read and counted first.
    judging = setImmediate(() => {
      judging = undefined;
      if (inWindow < needed) onTooSlow();
      inWindow = 0;
    });
  }, rate.windowMs);
  return {
    count(bytes) {
      inWindow += bytes;
    },
    stop() {
      clearInterval(timer);
      if (judging) clearImmediate(judging);
    },
  };
}
