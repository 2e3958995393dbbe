import type { Clock } from '../clock.js';
import type { Config } from '../config.js';
import type { Ids } from '../ids.js';
import { sha256Hex, type EventMeta, type Sqlite } from '../log/index.js';
import { findLiveAdminSession } from '../projections/sessions.js';
import { adminBudget, type PasswordBudget } from '../security/password-budget.js';
import type { PasswordHasher } from '../security/passwords.js';
import { adminDecider, adminStream } from './admin.js';
import type { CommandHandler } from './handle.js';
import type { RefusalCounter } from './refusals-service.js';

/** RELIABILITY.md §4.11: admin sessions end after 4 h, or after 15 min without a request. */
export const ADMIN_SESSION_TTL_MS = 4 * 60 * 60_000;
export const ADMIN_IDLE_MS = 15 * 60_000;

/** The admin behind a console session. */
export interface AdminPrincipal {
  readonly username: string;
}

export type AdminSessionService = ReturnType<typeof createAdminSessionService>;

export function createAdminSessionService(deps: {
  db: Sqlite;
  handle: CommandHandler['handle'];
  hasher: PasswordHasher;
  ids: Ids;
  clock: Clock;
  /** The admins of config.yml, read at each sign-in. */
  admins: () => Config['admin'];
  refusals: RefusalCounter;
  budget: PasswordBudget;
}) {
  const { db, handle, hasher, ids, clock } = deps;
  /** An admin's password, spending the name's budget (429 once spent). */
  const passwordOk = (typed: string, password: string, action: string, ip?: string) => {
    const admin = deps.admins().find((a) => a.username === typed);
    return deps.budget.spend(
      admin ? adminBudget(admin.username) : deps.budget.unknownName(typed),
      { action, ip, typed },
      async () => ({ admin, ok: await hasher.verify(admin?.password_hash, password) }),
      (check) => check.ok,
    );
  };
  /**
   * When each live session was last used. Kept in memory, not in the log (a request is not
   * an event): after a restart no session has an entry, so every admin signs in again.
   */
  const lastUsed = new Map<string, number>();

  return {
    /**
     * Checks the password against config.yml (argon2 runs for unknown names too) and opens a
     * session; undefined when refused, which is only counted (see refusals-service.ts).
     */
    async login(
      login: string,
      password: string,
      previousToken: string,
      meta: EventMeta,
    ): Promise<{ token: string; username: string } | undefined> {
      const typed = login.trim();
      const { admin, ok } = await passwordOk(typed, password, 'login', meta.ip);
      if (!admin || !ok) {
        // A known admin by name; anything else only as a keyed digest (it may be a password).
        deps.refusals.record({
          kind: 'admin_login',
          reason: admin ? 'wrong_password' : 'unknown_login',
          ip: meta.ip,
          ...(admin ? { admin: admin.username } : { typed }),
        });
        return undefined;
      }
      const token = ids.secret();
      const sessionHash = sha256Hex(token);
      const now = clock.now();
      const expiresAt = new Date(now.getTime() + ADMIN_SESSION_TTL_MS).toISOString();
      const previousHash = previousToken ? sha256Hex(previousToken) : '';
      const previous =
        previousHash && findLiveAdminSession(db, previousHash, now.toISOString())
          ? previousHash
          : undefined;
      handle({
        stream: adminStream(admin.username),
        decider: adminDecider,
        meta: { ...meta, actor: `admin:${admin.username}` },
        loadState: () => null,
        command: {
          type: 'AdminLogIn',
          data: {
            username: admin.username,
            sessionHash,
            expiresAt,
            ...(previous ? { previous } : {}),
          },
        },
      });
      if (previous) lastUsed.delete(previous);
      lastUsed.set(sessionHash, now.getTime());
      return { token, username: admin.username };
    },

    /** A signed-in admin's password again (CONTRACT.md §3.4), on the admin's budget. */
    async passwordMatches(username: string, password: string, ip?: string): Promise<boolean> {
      if (!password) return false;
      const { admin, ok } = await passwordOk(username, password, 'auth-test', ip);
      return admin !== undefined && ok;
    },

    /** Ends the session behind a token; an unknown or already ended one is left alone. */
    logout(token: string, meta: EventMeta): void {
      if (!token) return;
      const sessionHash = sha256Hex(token);
      lastUsed.delete(sessionHash);
      const row = findLiveAdminSession(db, sessionHash, clock.now().toISOString());
      if (!row) return;
      handle({
        stream: adminStream(row.username),
        decider: adminDecider,
        meta: { ...meta, actor: `admin:${row.username}` },
        loadState: () => null,
        command: { type: 'AdminLogOut', data: { username: row.username, sessionHash } },
      });
    },

    /**
     * The admin of a live session, which this use keeps from going idle. A session idle too
     * long is refused for good (its entry is dropped; a read writes nothing to the log), and
     * so is one whose admin is no longer in config.yml.
     */
    authenticate(token: string): AdminPrincipal | undefined {
      if (!token) return undefined;
      const sessionHash = sha256Hex(token);
      const now = clock.now();
      const row = findLiveAdminSession(db, sessionHash, now.toISOString());
      if (!row) {
        lastUsed.delete(sessionHash);
        return undefined;
      }
      const last = lastUsed.get(sessionHash);
      if (last === undefined || now.getTime() - last >= ADMIN_IDLE_MS) {
        lastUsed.delete(sessionHash);
        return undefined;
      }
      if (!deps.admins().some((a) => a.username === row.username)) return undefined;
      lastUsed.set(sessionHash, now.getTime());
      return { username: row.username };
    },
  };
}
