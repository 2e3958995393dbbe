import { DAY, fakeArgon, hexOf, pick } from './web-names.js';
import type { ActiveUser, Device, SeedShape, TimelineContext } from './web-timeline.js';

// The web bench's everyday traffic besides pushes: daily cleanups, settings changes, blocks,
// blobs, password resets, admin sign-ins, refused logins, and logins (a quarter of them
// ended by a logout) until the budget of other events is spent.

export function addActivity(
  ctx: TimelineContext,
  shape: SeedShape,
  active: readonly ActiveUser[],
  devices: readonly Device[],
): void {
  const { next, start, end, within, meta, one, add } = ctx;
  for (let day = 1; day <= 365 && ctx.counted() < shape.otherEvents; day++) {
    const t = start + day * DAY - 3_600_000;
    const cutoff = new Date(t).toISOString();
    const count = () => Math.floor(next() * 20);
    add(t, 1, () => ({
      requests: [
        one('server', 'CleanupRan', {
          sessionsExpiredBefore: cutoff,
          emailTokensExpiredBefore: cutoff,
          pushAnswersBefore: new Date(t - DAY).toISOString(),
          sessions: count(),
          emailTokens: count(),
          pushAnswers: 0,
          tempUploads: 0,
          tempUploadBytes: 0,
          blobFiles: 0,
          blobFileBytes: 0,
        }),
      ],
      meta: { actor: 'system' },
    }));
  }
  for (let k = 0; k < 4; k++) {
    const t = start + (k + 0.5) * 60 * DAY;
    add(t, 2, () => ({
      requests: [
        one('server', 'SmtpSettingsChanged', {
          host: 'smtp.example.org',
          port: 587,
          security: 'starttls',
          user: 'verstak',
          passwordCipher: hexOf(next, 40),
          from: 'Verstak <verstak@example.org>',
          publicUrl: 'https://sync.example.org',
        }),
        one('server', 'SmtpTestRequested', { to: 'admin@example.org' }),
      ],
      meta: meta('admin:root'),
    }));
  }
  const userAt = () => {
    const user = pick(next, active);
    return { user, t: within(user.since, end) };
  };
  const remaining = Math.max(0, shape.otherEvents - ctx.counted());
  const blocked = new Set<string>();
  for (let k = 0; k < Math.round(remaining * 0.01); k++) {
    const { user, t } = userAt();
    if (blocked.has(user.id)) continue;
    blocked.add(user.id);
    const stream = `user/${user.id}`;
    add(t, 1, () => ({
      requests: [one(stream, 'UserBlocked', { userId: user.id })],
      meta: meta('admin:root'),
    }));
    if (next() < 0.5) {
      const later = within(t, end);
      add(later, 1, () => ({
        requests: [one(stream, 'UserUnblocked', { userId: user.id })],
        meta: meta('admin:root'),
      }));
    }
  }
  for (let k = 0; k < Math.round(remaining * 0.05) && devices.length > 0; k++) {
    const device = pick(next, devices);
    const t = within(device.paired, Math.min(device.revoked, end));
    const sha256 = hexOf(next, 32);
    const size = Math.floor(1000 + next() * next() * 20_000_000);
    add(t, 2, () => ({
      requests: [
        {
          stream: `blob/${sha256}`,
          events: [
            { type: 'BlobStored', data: { sha256, size } },
            {
              type: 'BlobReferenced',
              data: {
                sha256,
                size,
                userId: device.userId,
                vaultId: device.vaultId,
                deviceId: device.id,
              },
            },
          ],
        },
      ],
      meta: meta(`device:${device.id}`),
    }));
  }
  for (let k = 0; k < Math.round(remaining * 0.01); k++) {
    const { user, t } = userAt();
    add(t, 2, () => ({
      requests: [
        one(`user/${user.id}`, 'PasswordResetRequested', {
          userId: user.id,
          tokenHash: hexOf(next, 32),
          expiresAt: new Date(t + 3_600_000).toISOString(),
        }),
      ],
      meta: meta('anonymous'),
    }));
    add(t + 600_000, 0, () => ({
      requests: [
        one(`user/${user.id}`, 'PasswordReset', { userId: user.id, passwordHash: fakeArgon(next) }),
      ],
      meta: meta('anonymous'),
    }));
  }
  for (let k = 0; k < Math.round(remaining * 0.005); k++) {
    const t = within(start, end);
    add(t, 1, () => ({
      requests: [
        one('admin/root', 'AdminLoginFailed', { login: 'root', reason: 'wrong_password' }),
      ],
      meta: meta('anonymous'),
    }));
  }
  for (let k = 0; k < Math.round(remaining * 0.01); k++) {
    const t = within(start, end);
    add(t, 1, () => ({
      requests: [
        one('admin/root', 'AdminLoggedIn', {
          username: 'root',
          sessionHash: hexOf(next, 32),
          expiresAt: new Date(t + 4 * 3_600_000).toISOString(),
        }),
      ],
      meta: meta('admin:root'),
    }));
  }
  for (let k = 0; k < Math.round(remaining * 0.12); k++) {
    const { user, t } = userAt();
    const login = next() < 0.8 ? user.username.toLowerCase() : `${user.username.toLowerCase()}x`;
    const known = !login.endsWith('x');
    add(t, 1, () => ({
      requests: [
        one(`login/${login}`, 'LoginFailed', {
          login,
          ...(known ? { userId: user.id } : {}),
          reason: known ? 'wrong_password' : 'unknown_login',
        }),
      ],
      meta: meta('anonymous'),
    }));
  }
  // Logins, a quarter of them ended by a logout, until the budget is spent.
  while (ctx.counted() < shape.otherEvents && active.length > 0) {
    const { user, t } = userAt();
    const sessionHash = hexOf(next, 32);
    const stream = `user/${user.id}`;
    add(t, 1, () => ({
      requests: [
        one(stream, 'UserLoggedIn', {
          userId: user.id,
          sessionHash,
          expiresAt: new Date(t + 30 * DAY).toISOString(),
        }),
      ],
      meta: meta(`user:${user.id}`),
    }));
    if (next() < 0.25 && ctx.counted() < shape.otherEvents) {
      const later = t + next() * 8 * 3_600_000;
      add(later, 1, () => ({
        requests: [one(stream, 'SessionEnded', { userId: user.id, sessionHash, reason: 'logout' })],
        meta: meta(`user:${user.id}`),
      }));
    }
  }
}
