import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createSecretBox } from '../../src/security/secret-box.js';
import { createTypedDigest, TYPED_NAME_KEY_PURPOSE } from '../../src/security/typed-digest.js';

const dirs: string[] = [];
const keyFileIn = () => {
  const dir = mkdtempSync(join(tmpdir(), 'vss-typed-digest-'));
  dirs.push(dir);
  return join(dir, 'secret.key');
};
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('the digest of a typed name', () => {
  it('is one per name however it was spaced or cased, and says nothing without the key', () => {
    const box = createSecretBox(keyFileIn(), { createKey: true });
    const digest = createTypedDigest(() => box.deriveKey(TYPED_NAME_KEY_PURPOSE));
    const other = createSecretBox(keyFileIn(), { createKey: true });
    const otherDigest = createTypedDigest(() => other.deriveKey(TYPED_NAME_KEY_PURPOSE));
    expect(digest('Alice@Example.test')).toMatch(/^[0-9a-f]{16}$/);
    expect(digest('  alice@example.TEST ')).toBe(digest('Alice@Example.test'));
    expect(digest('alice@example.test ')).not.toBe(digest('bob@example.test'));
    // Another server's key gives another digest: the same text cannot be looked up elsewhere.
    expect(otherDigest('alice@example.test')).not.toBe(digest('alice@example.test'));
  });

  it("derives its key from the box's key, per purpose, without being that key", () => {
    const file = keyFileIn();
    const box = createSecretBox(file, { createKey: true });
    const key = box.deriveKey(TYPED_NAME_KEY_PURPOSE);
    expect(key).toHaveLength(32);
    expect(createSecretBox(file, { createKey: false }).deriveKey(TYPED_NAME_KEY_PURPOSE)).toEqual(
      key,
    );
    expect(box.deriveKey('another purpose')).not.toEqual(key);
    expect(key).not.toEqual(readFileSync(file));
  });

  it('names nothing, and throws nothing, when the key cannot be read', () => {
    const box = createSecretBox(join(keyFileIn(), 'missing', 'secret.key'), { createKey: false });
    const digest = createTypedDigest(() => box.deriveKey(TYPED_NAME_KEY_PURPOSE));
    expect(digest('alice@example.test')).toBeUndefined();
  });
});
