import { z } from 'zod';
import { defineEvent } from '../catalogue.js';

// The web console's admins live in config.yml, not in the log; their sessions and refused
// sign-ins are recorded in the stream `admin/<username>` (the session token only as sha256).

/** An admin session began; it ends at expiresAt (absolute) or with AdminSessionEnded. */
export const AdminLoggedIn = defineEvent(
  'AdminLoggedIn',
  z.object({ username: z.string(), sessionHash: z.string(), expiresAt: z.string() }),
  { redact: ['sessionHash'] },
);

export const AdminSessionEnded = defineEvent(
  'AdminSessionEnded',
  z.object({
    username: z.string(),
    sessionHash: z.string(),
    reason: z.enum(['logout', 'replaced']),
  }),
  { redact: ['sessionHash'] },
);

/**
 * A refused admin sign-in, written by older servers only (`login` is what was typed,
 * trimmed and lower-cased); now counted in SecurityRefusalsCounted as `admin:<name>` or a
 * keyed digest of what was typed.
 */
export const AdminLoginFailed = defineEvent(
  'AdminLoginFailed',
  z.object({ login: z.string(), reason: z.enum(['unknown_login', 'wrong_password']) }),
);

export const ADMIN_EVENTS = [AdminLoggedIn, AdminSessionEnded, AdminLoginFailed] as const;
