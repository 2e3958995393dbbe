import { badRequest } from '../errors.js';
import { sha256Hex, type EventMeta } from '../log/index.js';
import { enqueueMail } from '../mail/outbox.js';
import { countResetRequestsSince, findEmailToken } from '../projections/email-tokens.js';
import { listLiveSessionHashes } from '../projections/sessions.js';
import { findUserByEmail, findUserById } from '../projections/users.js';
import { forgetPasswordFailures, userBudget } from '../security/password-budget.js';
import { forgotLink, resetLink } from './account-links.js';
import {
  mailLocale,
  mailedToken,
  presented,
  userStateLoader as loadState,
  type AccountDeps,
} from './account-service.js';
import { RESET_TOKEN_TTL_MS, loginAuditDecider, unknownResetStream } from './account.js';
import { PasswordSchema, parseOrThrow } from './user-service.js';
import { userDecider, userStream } from './user.js';

const HOUR = 3_600_000;

export type PasswordResetService = ReturnType<typeof createPasswordResetService>;

/** Forgot-password links and the resets they allow. */
export function createPasswordResetService(deps: AccountDeps) {
  const { db, handle, hasher, ids, clock } = deps;
  const now = () => clock.now().toISOString();
  const later = (ms: number) => new Date(clock.now().getTime() + ms).toISOString();

  return {
    /**
     * Mails a reset link to a known address, at most RESET_MAILS_PER_HOUR an hour. Every
     * request, known address or not, commits one event; the routes answer before calling it.
     */
    requestPasswordReset(rawEmail: string, meta: EventMeta): void {
      const email = rawEmail.trim().toLowerCase();
      const token = ids.secret();
      const tokenHash = sha256Hex(token);
      const user = findUserByEmail(db, email);
      if (!user) {
        const typed = deps.digestTyped?.(email);
        handle({
          stream: unknownResetStream(typed),
          decider: loginAuditDecider,
          meta,
          loadState: () => null,
          command: { type: 'RecordUnknownReset', data: typed ? { typed } : {} },
        });
        return;
      }
      const link = resetLink(deps.publicUrl(), token);
      const expiresAt = later(RESET_TOKEN_TTL_MS);
      handle({
        stream: userStream(user.id),
        decider: userDecider,
        meta,
        loadState: loadState(user.id),
        command: (tx) => ({
          type: 'RequestPasswordReset' as const,
          data: {
            userId: user.id,
            email,
            tokenHash,
            expiresAt,
            recentResets: countResetRequestsSince(
              tx,
              user.id,
              new Date(clock.now().getTime() - HOUR).toISOString(),
            ),
          },
        }),
        sideEffects: (tx, events) => {
          if (!events.some((e) => e.type === 'PasswordResetRequested')) return;
          const mail = { link, username: user.username };
          enqueueMail(
            tx,
            {
              to: user.email,
              template: 'reset-password',
              locale: mailLocale(user.locale),
              params: mail,
            },
            clock.now(),
            { seal: deps.sealMail, expiresAt },
          );
        },
      });
    },

    /** Whether a reset link can still be used: what the reset page checks before its form. */
    resetTokenUsable(token: string): boolean {
      try {
        const row = mailedToken(db, token, 'reset');
        return row.used_at === null && row.expires_at > now();
      } catch {
        return false;
      }
    },

    /** Sets a new password from a reset link, ends every session and tells the owner. */
    async resetPassword(token: string, newPassword: string, meta: EventMeta): Promise<void> {
      const password = parseOrThrow(PasswordSchema, newPassword);
      const row = mailedToken(db, token, 'reset');
      if (row.used_at !== null || row.expires_at <= now()) {
        // Checked again by the decider; refusing here spares an argon2 hash.
        throw badRequest(row.used_at !== null ? 'invalid or expired token' : 'token expired');
      }
      const passwordHash = await hasher.hash(password);
      const userId = row.user_id;
      handle({
        stream: userStream(userId),
        decider: userDecider,
        meta,
        loadState: loadState(userId),
        command: (tx) => ({
          type: 'ResetPassword' as const,
          data: {
            userId,
            token: presented(findEmailToken(tx, row.token_hash)),
            now: now(),
            passwordHash,
            liveSessions: listLiveSessionHashes(tx, userId, now()),
          },
        }),
        sideEffects: (tx) => {
          forgetPasswordFailures(tx, userBudget(userId));
          const user = findUserById(tx, userId);
          if (!user) return;
          const params = { link: forgotLink(deps.publicUrl()), username: user.username };
          enqueueMail(
            tx,
            {
              to: user.email,
              template: 'password-changed',
              locale: mailLocale(user.locale),
              params,
            },
            clock.now(),
          );
        },
      });
    },
  };
}
