import { AppError } from '../errors.js';
import type { Sqlite } from '../log/index.js';
import { findUserByLogin, type UserRow } from '../projections/users.js';
import type { PasswordHasher } from '../security/passwords.js';

export const invalidCredentials = () => new AppError(401, 'unauthorized', 'invalid credentials');

/**
 * Checks a login (username or e-mail) and password. argon2 always runs, against a dummy
 * hash for unknown logins, so timing does not reveal which accounts exist; the account's
 * state (blocked, unconfirmed) is only told to someone who knows the password.
 */
export async function checkCredentials(
  db: Sqlite,
  hasher: PasswordHasher,
  login: string,
  password: string,
): Promise<UserRow> {
  const user = findUserByLogin(db, login);
  const ok = await hasher.verify(user?.password_hash, password);
  if (!user || !ok) throw invalidCredentials();
  if (user.blocked) throw new AppError(403, 'forbidden', 'account blocked');
  if (!user.confirmed) throw new AppError(403, 'forbidden', 'email not confirmed');
  return user;
}
