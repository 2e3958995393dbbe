import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createSecretBox, secretKeyFileOf } from '../../src/security/secret-box.js';

const dirs: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'verstak-key-'));
  dirs.push(dir);
  return dir;
};
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('the secret box', () => {
  it('uses the systemd credential when $CREDENTIALS_DIRECTORY is set, else <data>/secret.key', () => {
    expect(secretKeyFileOf('/srv/data', {})).toBe('/srv/data/secret.key');
    expect(secretKeyFileOf('/srv/data', { CREDENTIALS_DIRECTORY: '/run/credentials/x' })).toBe(
      '/run/credentials/x/smtp-key',
    );
  });

  it('round-trips, and refuses an altered cipher or another purpose', () => {
    const box = createSecretBox(join(tempDir(), 'secret.key'), { createKey: true });
    const cipher = box.encrypt('pässword ✓', 'smtp-password');
    expect(box.decrypt(cipher, 'smtp-password')).toBe('pässword ✓');
    expect(box.encrypt('pässword ✓', 'smtp-password')).not.toBe(cipher);
    expect(() => box.decrypt(cipher, 'other-purpose')).toThrow();
    const parts = cipher.split('.');
    const body = Buffer.from(parts[4]!, 'base64url');
    body[0] = body[0]! ^ 1;
    parts[4] = body.toString('base64url');
    expect(() => box.decrypt(parts.join('.'), 'smtp-password')).toThrow();
    expect(() => box.decrypt('plain text', 'smtp-password')).toThrow('not an encrypted secret');
  });

  it('reads a credential key as raw, hex or base64, and never creates one there', () => {
    const dir = tempDir();
    const key = randomBytes(32);
    const encrypted = createSecretBox(join(dir, 'raw'), { createKey: true });
    writeFileSync(join(dir, 'raw'), key);
    writeFileSync(join(dir, 'hex'), `${key.toString('hex')}\n`);
    writeFileSync(join(dir, 'b64'), key.toString('base64'));
    const cipher = encrypted.encrypt('s', 'p');
    for (const name of ['hex', 'b64']) {
      expect(createSecretBox(join(dir, name), { createKey: false }).decrypt(cipher, 'p')).toBe('s');
    }
    const missing = createSecretBox(join(dir, 'absent'), { createKey: false });
    expect(() => missing.encrypt('s', 'p')).toThrow(/is missing/);
    expect(existsSync(join(dir, 'absent'))).toBe(false);
    writeFileSync(join(dir, 'short'), 'abc');
    expect(() =>
      createSecretBox(join(dir, 'short'), { createKey: false }).encrypt('s', 'p'),
    ).toThrow(/expected a 32-byte key/);
  });

  it('a second box on the same file uses the key the first one created', () => {
    const file = join(tempDir(), 'secret.key');
    const a = createSecretBox(file, { createKey: true });
    const cipher = a.encrypt('x', 'p');
    const b = createSecretBox(file, { createKey: true });
    expect(b.decrypt(cipher, 'p')).toBe('x');
  });
});
