import { createHmac } from 'node:crypto';

/** The secret box's derived key for typed names (see SecretBox.deriveKey). */
export const TYPED_NAME_KEY_PURPOSE = 'verstak typed-name digest v1';

/** Hex digits kept: 64 bits tell apart the names of a window; the key does the hiding. */
const DIGEST_HEX = 16;

/**
 * What a typed login or address that names no account becomes wherever it is kept: a
 * digest under a key that is not in the database. Repeated tries at one name still count
 * as one target, but neither the text nor an unkeyed hash of it (which a dictionary of
 * addresses or passwords would reverse: people type passwords into the login field) is
 * stored. Undefined when the key cannot be had (a missing systemd credential): the attempt
 * is then counted without naming its target, and never fails for it.
 */
export type TypedDigest = (typed: string) => string | undefined;

export const normaliseTyped = (typed: string) => typed.trim().normalize('NFC').toLowerCase();

export function createTypedDigest(key: () => Buffer): TypedDigest {
  let cached: Buffer | undefined;
  return (typed) => {
    try {
      cached ??= key();
    } catch {
      return undefined;
    }
    return createHmac('sha256', cached)
      .update(normaliseTyped(typed))
      .digest('hex')
      .slice(0, DIGEST_HEX);
  };
}
