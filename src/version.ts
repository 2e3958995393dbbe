import { readFileSync } from 'node:fs';

export interface BuildInfo {
  readonly version: string;
  readonly buildCommit: string;
}

/** Written by scripts/build.sh next to the compiled code; absent when running from source. */
export function readBuildInfo(): BuildInfo {
  try {
    const raw = JSON.parse(
      readFileSync(new URL('../build-info.json', import.meta.url), 'utf8'),
    ) as { version?: string; build_commit?: string };
    return { version: raw.version ?? 'dev', buildCommit: raw.build_commit ?? 'unknown' };
  } catch {
    return { version: 'dev', buildCommit: 'unknown' };
  }
}
