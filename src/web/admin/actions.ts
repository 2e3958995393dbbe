import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AdminPrincipal } from '../../commands/admin-session-service.js';
import type { EventMeta } from '../../log/index.js';

/** One `POST /admin/action` action (CONTRACT.md §11), after CSRF and any re-authentication. */
export interface AdminActionContext {
  readonly request: FastifyRequest;
  readonly reply: FastifyReply;
  readonly admin: AdminPrincipal;
  /** The whole form, for the action's own schema (`readForm`). */
  readonly body: unknown;
  /** Who did it, from where: `admin:<name>`. */
  readonly meta: EventMeta;
}

export interface AdminAction {
  /** CONTRACT.md §3.4: whether the admin's password is asked for again. */
  readonly reauth: boolean;
  readonly run: (context: AdminActionContext) => Promise<unknown>;
}

/**
 * The console's actions by name. Each section's module adds its own when it registers its
 * routes; the one dispatcher checks CSRF and the password before any of them runs.
 */
export type AdminActions = Map<string, AdminAction>;
