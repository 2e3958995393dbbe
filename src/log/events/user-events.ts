import { z } from 'zod';
import { defineEvent } from '../catalogue.js';

export const UserRegistered = defineEvent(
  'UserRegistered',
  z.object({
    userId: z.string(),
    username: z.string(),
    email: z.string(),
    passwordHash: z.string(),
    confirmed: z.boolean(),
    locale: z.string(),
    registeredBy: z.enum(['self', 'operator', 'admin']),
  }),
  { redact: ['passwordHash'] },
);

export const UserBlocked = defineEvent('UserBlocked', z.object({ userId: z.string() }));

export const UserUnblocked = defineEvent('UserUnblocked', z.object({ userId: z.string() }));

const SeqRangeSchema = z.tuple([z.number().int().positive(), z.number().int().positive()]);

/**
 * The account is gone, and with it the user's content: `redacted` lists (as inclusive seq
 * ranges) the earlier events whose data this event's transaction replaced by a redaction
 * marker, which is what lets verify trust those rows' kept data_hash; `blobs` are the
 * contents no one else referenced, dropped so the retention cleanup removes their files.
 */
export const UserDeleted = defineEvent(
  'UserDeleted',
  z.object({
    userId: z.string(),
    redacted: z.array(SeqRangeSchema),
    blobs: z.array(z.string()),
  }),
);

export const USER_EVENTS = [UserRegistered, UserBlocked, UserUnblocked, UserDeleted] as const;
