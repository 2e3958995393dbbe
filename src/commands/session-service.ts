import type { Clock } from '../clock.js';
import type { Ids } from '../ids.js';
import { sha256Hex, type EventMeta, type Sqlite } from '../log/index.js';
import { findLiveSession } from '../projections/sessions.js';
import type { PasswordBudget } from '../security/password-budget.js';
import type { PasswordHasher } from '../security/passwords.js';
import { SESSION_TTL_MS } from './account.js';
import { verifyLogin } from './auth-service.js';
import type { CommandHandler } from './handle.js';
import type { RefusalCounter } from './refusals-service.js';
import { userDecider, userStream } from './user.js';
import { loadUserState } from './user-service.js';

/** The signed-in user behind a browser session. */
export interface SessionPrincipal {
  readonly userId: string;
  readonly username: string;
}

export type SessionService = ReturnType<typeof createSessionService>;

export function createSessionService(deps: {
  db: Sqlite;
  handle: CommandHandler['handle'];
  hasher: PasswordHasher;
  ids: Ids;
  clock: Clock;
  refusals: RefusalCounter;
  budget: PasswordBudget;
}) {
  const { db, handle, hasher, ids, clock } = deps;
  return {
    /**
     * Opens a 24 h session and returns its token, shown only here. A refused login is only
     * counted (one summary per window, see refusals-service.ts), whether or not the account
     * exists, so both cost the same and an attacker cannot grow the log with them.
     */
    async login(
      login: string,
      password: string,
      meta: EventMeta,
    ): Promise<{ token: string; userId: string }> {
      const check = await verifyLogin(db, hasher, login, password, {
        budget: deps.budget,
        action: 'login',
        ip: meta.ip,
      });
      if (!check.ok) {
        deps.refusals.record({
          kind: 'user_login',
          reason: check.reason,
          ip: meta.ip,
          userId: check.user?.id,
          typed: login,
        });
        throw check.error;
      }
      const userId = check.user.id;
      const token = ids.secret();
      const expiresAt = new Date(clock.now().getTime() + SESSION_TTL_MS).toISOString();
      handle({
        stream: userStream(userId),
        decider: userDecider,
        meta: { ...meta, actor: `user:${userId}` },
        loadState: (tx) => loadUserState(tx, userId),
        command: { type: 'LogIn', data: { userId, sessionHash: sha256Hex(token), expiresAt } },
      });
      return { token, userId };
    },

    /** Ends the session behind a token; an unknown or already ended one is left alone. */
    logout(token: string, meta: EventMeta): void {
      if (!token) return;
      const sessionHash = sha256Hex(token);
      const row = findLiveSession(db, sessionHash, clock.now().toISOString());
      if (!row) return;
      handle({
        stream: userStream(row.user_id),
        decider: userDecider,
        meta: { ...meta, actor: `user:${row.user_id}` },
        loadState: (tx) => loadUserState(tx, row.user_id),
        command: { type: 'LogOut', data: { userId: row.user_id, sessionHash } },
      });
    },

    /** The user of a live session; undefined for anything else, device tokens included. */
    authenticate(token: string): SessionPrincipal | undefined {
      if (!token) return undefined;
      const row = findLiveSession(db, sha256Hex(token), clock.now().toISOString());
      if (!row || row.blocked) return undefined;
      return { userId: row.user_id, username: row.username };
    },
  };
}
