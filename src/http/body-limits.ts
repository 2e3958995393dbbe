import type { Limits } from '../config.js';

/**
 * A route that ignores its body (revoke-current: the desktop sends none) still reads one
 * within this bound, so a stray `{}` is accepted and anything larger is 413 at once.
 */
export const IGNORED_BODY_LIMIT = 1024;

/**
 * Credentials and small commands (pairing, sign-in, registration, revocations): a few
 * short strings, so 16 KiB is generous (RELIABILITY.md §2.9), and never above the
 * configured JSON limit.
 */
export const credentialsBodyLimit = (limits: Pick<Limits, 'max_json_body'>) =>
  Math.min(16 * 1024, limits.max_json_body);
