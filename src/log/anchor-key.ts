import { createHash } from 'node:crypto';
import { deriveSecretKey, secretKeyFileOf } from '../security/secret-box.js';
import type { AnchorKey } from './anchor.js';
import type { AnchorKeyState } from './anchor-check.js';

// Its own HKDF purpose: the anchor key is not the secret box's, and neither reveals the other.
const PURPOSE = 'verstak-sync-server log anchor v1';

export interface AnchorKeySource {
  readonly file: string;
  /** A systemd credential is read-only: never created here. */
  readonly credential: boolean;
}

export const anchorKeySourceOf = (dataDir: string, env: NodeJS.ProcessEnv): AnchorKeySource => ({
  file: secretKeyFileOf(dataDir, env),
  credential: Boolean(env.CREDENTIALS_DIRECTORY),
});

/** Reads (or, with `create` and a data-dir key file, creates) the key and derives the anchor key. */
export function readAnchorKey(source: AnchorKeySource, create: boolean): AnchorKey {
  const key = deriveSecretKey(source.file, PURPOSE, { createKey: create && !source.credential });
  // A digest of the derived key, never of the secret key itself: it names the key in anchors.
  const id = createHash('sha256').update(key).digest('hex').slice(0, 16);
  return { key, id, file: source.file };
}

/** The key for checks, which never create one: a missing key is a state, not an error. */
export function anchorKeyState(source: AnchorKeySource): AnchorKeyState {
  try {
    return { key: readAnchorKey(source, false) };
  } catch (err) {
    return { file: source.file, problem: (err as Error).message };
  }
}
