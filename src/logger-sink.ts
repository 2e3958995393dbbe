import { write, writeSync } from 'node:fs';

/** What the log sink could not write, for health and the admin diagnostics. */
export interface LogSinkStats {
  /** Log lines dropped since start because the output refused them (full disk, closed pipe). */
  readonly droppedLines: number;
}

export interface LogSink {
  write(line: string): boolean;
  /** Writes what is pending once, synchronously, at exit; drops it if the output refuses. */
  flushSync(): void;
  stats(): LogSinkStats;
}

// Beyond this much waiting output a slow or stuck sink costs memory: new lines are dropped.
const MAX_PENDING_BYTES = 4 * 1024 * 1024;
const RETRY_MS = 100;

/**
 * pino's output to a file descriptor that never stops or kills the server. Lines are
 * written asynchronously in batches; when the output refuses them (a full disk under a
 * redirected stdout, a closed pipe, an I/O error) they are dropped and counted instead of
 * retried for ever, so requests keep being answered and SIGTERM still drains; writing
 * resumes by itself once the output takes lines again.
 */
export function createLogSink(fd: number): LogSink {
  let pending: string[] = [];
  let pendingBytes = 0;
  let writing = false;
  let scheduled = false;
  let dropped = 0;

  const flush = () => {
    scheduled = false;
    if (writing || pending.length === 0) return;
    const lines = pending;
    const text = lines.join('');
    pending = [];
    pendingBytes = 0;
    writing = true;
    const bytes = Buffer.from(text);
    const writeFrom = (offset: number) =>
      write(fd, bytes, offset, bytes.length - offset, null, (err, written) => {
        if (err?.code === 'EAGAIN') {
          setTimeout(() => writeFrom(offset), RETRY_MS).unref();
          return;
        }
        if (err) dropped += lines.length;
        else if (offset + written < bytes.length) {
          writeFrom(offset + written);
          return;
        }
        writing = false;
        flush();
      });
    writeFrom(0);
  };

  return {
    write(line) {
      if (pendingBytes + line.length > MAX_PENDING_BYTES) {
        dropped += 1;
        return true;
      }
      pending.push(line);
      pendingBytes += line.length;
      if (!writing && !scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
      return true;
    },
    flushSync() {
      if (pending.length === 0) return;
      const lines = pending;
      pending = [];
      pendingBytes = 0;
      try {
        writeSync(fd, lines.join(''));
      } catch {
        dropped += lines.length;
      }
    },
    stats: () => ({ droppedLines: dropped }),
  };
}
