import type { Clock } from '../clock.js';
import { sha256Hex, type Sqlite } from '../log/index.js';
import type { SecretBox } from '../security/secret-box.js';

/** CONTRACT.md §10: a generated password is kept for its admin at most this long. */
export const ONE_TIME_SECRET_TTL_MS = 5 * 60_000;

/** What an admin is shown once: whose password it is, and the password. */
export interface OneTimeSecret {
  readonly username: string;
  readonly password: string;
}

/**
 * The last password the console generated, per admin session: a side table, not a
 * projection (a password shown once is no state change, and never enters the log). The
 * row holds only ciphertext from the secret box, bound to the session, and is deleted when
 * shown or found expired; several server instances share it through the database.
 */
export function createOneTimeSecrets(deps: { db: Sqlite; secrets: SecretBox; clock: Clock }) {
  const { db, secrets, clock } = deps;
  db.exec(`CREATE TABLE IF NOT EXISTS admin_one_time_secrets (
    session_hash TEXT PRIMARY KEY,
    cipher TEXT NOT NULL,
    expires_at TEXT NOT NULL
  ) STRICT`);
  const put = db.prepare(
    `INSERT INTO admin_one_time_secrets (session_hash, cipher, expires_at) VALUES (?, ?, ?)
     ON CONFLICT (session_hash) DO UPDATE SET cipher = excluded.cipher,
       expires_at = excluded.expires_at`,
  );
  const sweep = db.prepare('DELETE FROM admin_one_time_secrets WHERE expires_at <= ?');
  // DELETE … RETURNING: two requests of one session racing for it cannot both get it.
  const take = db.prepare(
    'DELETE FROM admin_one_time_secrets WHERE session_hash = ? RETURNING cipher, expires_at',
  );
  // The ciphertext is bound to the session: a row moved to another session does not open.
  const purposeOf = (sessionHash: string) => `admin-one-time-password:${sessionHash}`;

  return {
    /** Keeps `secret` for the session of this admin token, replacing an earlier one. */
    keep(sessionToken: string, secret: OneTimeSecret): void {
      const now = clock.now();
      const sessionHash = sha256Hex(sessionToken);
      sweep.run(now.toISOString());
      const expiresAt = new Date(now.getTime() + ONE_TIME_SECRET_TTL_MS).toISOString();
      put.run(
        sessionHash,
        secrets.encrypt(JSON.stringify(secret), purposeOf(sessionHash)),
        expiresAt,
      );
    },
    /** The session's secret, removed by this read; undefined when shown already or expired. */
    take(sessionToken: string): OneTimeSecret | undefined {
      if (!sessionToken) return undefined;
      const now = clock.now().toISOString();
      const sessionHash = sha256Hex(sessionToken);
      sweep.run(now);
      const row = take.get(sessionHash) as { cipher: string; expires_at: string } | undefined;
      if (!row) return undefined;
      return JSON.parse(secrets.decrypt(row.cipher, purposeOf(sessionHash))) as OneTimeSecret;
    },
  };
}

export type OneTimeSecrets = ReturnType<typeof createOneTimeSecrets>;
