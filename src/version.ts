import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { APP_DIR } from './app-dir.js';

export interface BuildInfo {
  readonly version: string;
  readonly buildCommit: string;
}

/** Written by scripts/build.sh into build/; absent when running from source. */
export function readBuildInfo(): BuildInfo {
  try {
    const raw = JSON.parse(readFileSync(join(APP_DIR, 'build-info.json'), 'utf8')) as {
      version?: string;
      build_commit?: string;
    };
    return { version: raw.version ?? 'dev', buildCommit: raw.build_commit ?? 'unknown' };
  } catch {
    return { version: 'dev', buildCommit: 'unknown' };
  }
}
