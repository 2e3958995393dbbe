import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fsyncParent, fsyncPath } from '../fsync.js';

const KEY_BYTES = 32;
const IV_BYTES = 12;
const FORMAT = 'v1';

/** Encrypts service secrets (the SMTP password) for storage in the event log. */
export interface SecretBox {
  /** Where the key lives; created on the first encryption when it is the data-dir file. */
  readonly keyFile: string;
  encrypt(plain: string, purpose: string): string;
  /** Throws when the key is missing, differs from the one used, or the text was altered. */
  decrypt(cipher: string, purpose: string): string;
  /** A key for `purpose` derived from this box's key (see deriveSecretKey). */
  deriveKey(purpose: string): Buffer;
}

/**
 * A systemd credential (`LoadCredential=smtp-key:...`) wins over the key file in the data
 * directory, so a backup of the data directory alone does not hold the key.
 */
export function secretKeyFileOf(dataDir: string, env: NodeJS.ProcessEnv): string {
  const credentials = env.CREDENTIALS_DIRECTORY;
  return credentials ? join(credentials, 'smtp-key') : join(dataDir, 'secret.key');
}

function parseKey(raw: Buffer, file: string): Buffer {
  if (raw.length === KEY_BYTES) return raw;
  const text = raw.toString('utf8').trim();
  if (/^[0-9a-f]{64}$/i.test(text)) return Buffer.from(text, 'hex');
  const decoded = Buffer.from(text, 'base64');
  if (decoded.length === KEY_BYTES) return decoded;
  throw new Error(`${file}: expected a 32-byte key (raw, hex or base64)`);
}

function createKeyFile(file: string): void {
  writeFileSync(file, randomBytes(KEY_BYTES), { flag: 'wx', mode: 0o600 });
  fsyncPath(file);
  fsyncParent(file);
}

function readKey(file: string, create: boolean): Buffer {
  try {
    return parseKey(readFileSync(file), file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    if (!create) throw new Error(`secret key ${file} is missing`, { cause: err });
  }
  try {
    createKeyFile(file);
  } catch (err) {
    // Another process (the CLI beside a running server) created it first: use theirs.
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  return parseKey(readFileSync(file), file);
}

/**
 * A key for another use derived from the secret key (HKDF-SHA256, `purpose` as its info), so
 * operators keep one key file; the derived key says nothing about the secret box's own.
 * Throws like the box does when the key file is missing and may not be created.
 */
export function deriveSecretKey(
  keyFile: string,
  purpose: string,
  options: { createKey: boolean },
): Buffer {
  const key = readKey(keyFile, options.createKey);
  return Buffer.from(hkdfSync('sha256', key, Buffer.alloc(0), purpose, KEY_BYTES));
}

// A short digest of the key names it in each cipher, so a key swap gives a clear error
// instead of a bare authentication failure.
const keyIdOf = (key: Buffer) => createHash('sha256').update(key).digest('hex').slice(0, 8);

/**
 * AES-256-GCM with a random 96-bit nonce per secret; `purpose` is bound as associated data
 * so a cipher cannot be replayed into another field.
 */
export function createSecretBox(keyFile: string, options: { createKey: boolean }): SecretBox {
  let key: Buffer | undefined;
  const load = (create: boolean) => (key ??= readKey(keyFile, create));
  return {
    keyFile,
    deriveKey: (purpose) => deriveSecretKey(keyFile, purpose, options),
    encrypt(plain, purpose) {
      const k = load(options.createKey);
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', k, iv);
      cipher.setAAD(Buffer.from(purpose));
      const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
      const parts = [iv, cipher.getAuthTag(), body].map((b) => b.toString('base64url'));
      return [FORMAT, keyIdOf(k), ...parts].join('.');
    },
    decrypt(text, purpose) {
      const [format, keyId, iv, tag, body] = text.split('.');
      if (format !== FORMAT || !keyId || !iv || !tag || body === undefined) {
        throw new Error('not an encrypted secret');
      }
      const k = load(false);
      if (keyId !== keyIdOf(k)) {
        throw new Error(`the secret was encrypted with another key than ${keyFile}`);
      }
      const decipher = createDecipheriv('aes-256-gcm', k, Buffer.from(iv, 'base64url'));
      decipher.setAAD(Buffer.from(purpose));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([
        decipher.update(Buffer.from(body, 'base64url')),
        decipher.final(),
      ]).toString('utf8');
    },
  };
}
