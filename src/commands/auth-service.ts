import { AppError } from '../errors.js';
import type { Sqlite } from '../log/index.js';
import { findUserByLogin, type UserRow } from '../projections/users.js';
import { userBudget, type PasswordBudget } from '../security/password-budget.js';
import type { PasswordHasher } from '../security/passwords.js';

export const invalidCredentials = () => new AppError(401, 'unauthorized', 'invalid credentials');

export type LoginRefusal =
  'unknown_login' | 'wrong_password' | 'account_blocked' | 'email_not_confirmed';

export type LoginCheck =
  | { readonly ok: true; readonly user: UserRow }
  | {
      readonly ok: false;
      readonly reason: LoginRefusal;
      readonly user: UserRow | undefined;
      /** What the client is told: the same for unknown logins and wrong passwords. */
      readonly error: AppError;
    };

/** The budget a password check spends, and what it is told about the attempt. */
export interface BudgetedAttempt {
  readonly budget: PasswordBudget;
  /** The rate-limit action (login, pair, device-register, auth-test). */
  readonly action: string;
  readonly ip?: string | undefined;
}

/**
 * Checks a login (username or e-mail) and password. argon2 always runs, against a dummy
 * hash for unknown logins, so timing does not reveal which accounts exist; the account's
 * state (blocked, unconfirmed) is only told to someone who knows the password. A wrong
 * password spends the account's budget, whichever alias was typed (429 once spent).
 */
export async function verifyLogin(
  db: Sqlite,
  hasher: PasswordHasher,
  login: string,
  password: string,
  attempt: BudgetedAttempt,
): Promise<LoginCheck> {
  const user = findUserByLogin(db, login);
  const ok = await attempt.budget.spend(
    user ? userBudget(user.id) : attempt.budget.unknownName(login),
    { action: attempt.action, ip: attempt.ip, typed: login },
    () => hasher.verify(user?.password_hash, password),
    (passed) => passed,
  );
  if (!user || !ok) {
    const reason = user ? 'wrong_password' : 'unknown_login';
    return { ok: false, reason, user, error: invalidCredentials() };
  }
  if (user.blocked) {
    return {
      ok: false,
      reason: 'account_blocked',
      user,
      error: new AppError(403, 'forbidden', 'account blocked'),
    };
  }
  if (!user.confirmed) {
    const error = new AppError(403, 'forbidden', 'email not confirmed');
    return { ok: false, reason: 'email_not_confirmed', user, error };
  }
  return { ok: true, user };
}

/** verifyLogin for callers that only need the user or the client's error. */
export async function checkCredentials(
  db: Sqlite,
  hasher: PasswordHasher,
  login: string,
  password: string,
  attempt: BudgetedAttempt,
): Promise<UserRow> {
  const check = await verifyLogin(db, hasher, login, password, attempt);
  if (!check.ok) throw check.error;
  return check.user;
}
