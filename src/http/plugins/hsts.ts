import type { Bus } from '../../bus.js';

/**
 * One year, the floor ASVS 3.4.1 asks for (RELIABILITY.md §2.8). No `includeSubDomains`:
 * the server vouches for its own origin only; what else runs under its name (a plain-http
 * LAN service, another team's host) is the operator's to declare, at the proxy.
 */
export const HSTS_VALUE = 'max-age=31536000';

/** How long a public URL read from the database is trusted when no change was announced. */
const RECHECK_MS = 10_000;

export const isHttpsUrl = (url: string): boolean => {
  try {
    return new URL(url.trim()).protocol === 'https:';
  } catch {
    return false;
  }
};

export interface HstsPolicy {
  /** The header value to send, or undefined when the public URL is not https. */
  (): string | undefined;
  /** Stops following settings changes (the app's onClose). */
  stop(): void;
}

/**
 * Strict-Transport-Security follows the configured public URL (settings, else config.yml),
 * which an admin can change while the server runs. Reading it costs a query, too much for
 * every pull, so the answer is kept until a settings change is committed in this process,
 * and re-read every RECHECK_MS in case another process (the CLI) changed it.
 */
export function createHstsPolicy(deps: {
  configuredPublicUrl: () => string;
  bus?: Pick<Bus, 'on' | 'off'>;
  now?: () => number;
}): HstsPolicy {
  const now = deps.now ?? Date.now;
  let value: string | undefined;
  let readAt = Number.NEGATIVE_INFINITY;
  const onCommitted = (events: readonly { type: string }[]) => {
    if (events.some((e) => e.type === 'SmtpSettingsChanged')) readAt = Number.NEGATIVE_INFINITY;
  };
  deps.bus?.on('committed', onCommitted);
  const policy = () => {
    const at = now();
    if (at - readAt >= RECHECK_MS) {
      readAt = at;
      try {
        value = isHttpsUrl(deps.configuredPublicUrl()) ? HSTS_VALUE : undefined;
      } catch {
        // A failing database read must not fail every answer: keep the last known policy.
      }
    }
    return value;
  };
  return Object.assign(policy, { stop: () => deps.bus?.off('committed', onCommitted) });
}
