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

export const USER_EVENTS = [UserRegistered, UserBlocked, UserUnblocked] as const;
