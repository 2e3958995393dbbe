import { mkdirSync } from 'node:fs';
import { loadConfig, saveConfig } from '../config.js';
import type { PasswordHasher } from '../security/passwords.js';

/** Creates or updates an admin of the web console in config.yml (argon2id hash only). */
export async function upsertAdmin(
  dataDir: string,
  username: string,
  password: string,
  hasher: PasswordHasher,
): Promise<'created' | 'updated'> {
  if (Buffer.byteLength(password) < 8) throw new Error('admin password must be at least 8 bytes');
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const config = loadConfig(dataDir);
  const passwordHash = await hasher.hash(password);
  const existing = config.admin.find((a) => a.username === username);
  const admin = existing
    ? config.admin.map((a) => (a.username === username ? { ...a, password_hash: passwordHash } : a))
    : [...config.admin, { username, password_hash: passwordHash }];
  saveConfig(dataDir, { ...config, admin });
  return existing ? 'updated' : 'created';
}
