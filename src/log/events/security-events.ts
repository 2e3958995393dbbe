import { z } from 'zod';
import { defineEvent } from '../catalogue.js';

export const REFUSAL_KINDS = ['user_login', 'admin_login', 'device_auth', 'rate_limit'] as const;

/** At most this many sources and targets are kept per summary: the heaviest ones. */
export const REFUSAL_TOP = 10;

const Count = z.number().int().positive();

/**
 * Refused sign-ins, device authentications or rate-limited requests of one kind in one
 * window, summed in memory and appended once when the window closes (or at shutdown): the
 * log grows by at most one such event per kind and window, whatever an attacker sends.
 * `targets` name what was aimed at without keeping what was typed: `user:<id>`, `admin:<name>`
 * or `device:<id>` when it named one, otherwise `typed:<hex>`, a digest keyed by the secret
 * box (security/typed-digest.ts; older servers wrote the first 8 hex of a plain sha256). A
 * typed name may be someone's e-mail address or a password typed into the wrong field.
 */
export const SecurityRefusalsCounted = defineEvent(
  'SecurityRefusalsCounted',
  z.object({
    kind: z.enum(REFUSAL_KINDS),
    windowStart: z.string(),
    windowEnd: z.string(),
    count: Count,
    /** Why, e.g. wrong_password, revoked_device, or the rate-limited action. */
    reasons: z.array(z.object({ reason: z.string().max(40), count: Count })).max(20),
    sources: z.array(z.object({ ip: z.string().max(64), count: Count })).max(REFUSAL_TOP),
    targets: z.array(z.object({ key: z.string().max(80), count: Count })).max(REFUSAL_TOP),
  }),
);

export const SECURITY_EVENTS = [SecurityRefusalsCounted] as const;
