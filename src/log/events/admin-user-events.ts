import { z } from 'zod';
import { defineEvent } from '../catalogue.js';

/**
 * An admin changed a user's handle or address (CONTRACT.md §11 edit-user). The values are
 * the new ones, already checked for shape and uniqueness; confirmation is left as it was,
 * since the admin vouches for the address.
 */
export const UserUpdated = defineEvent(
  'UserUpdated',
  z.object({ userId: z.string(), username: z.string(), email: z.string() }),
);

export const ADMIN_USER_EVENTS = [UserUpdated] as const;
