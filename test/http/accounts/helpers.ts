import { MAIL_PARAMS_PURPOSE, paramsOf } from '../../../src/mail/outbox.js';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { expect } from 'vitest';
import type { MailTemplateName } from '../../../src/mail/outbox.js';
import { startTestServer, type TestServer } from '../../helpers/sync-app.js';

export const PUBLIC_URL = 'https://sync.example.test';
export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;

export const startAccountsServer = (options: Parameters<typeof startTestServer>[0] = {}) =>
  startTestServer({ ...options, settings: { public_url: PUBLIC_URL, ...options.settings } });

export function send(
  server: TestServer,
  method: 'GET' | 'POST',
  url: string,
  payload?: object,
  extra: Omit<InjectOptions, 'method' | 'url'> = {},
): Promise<LightMyRequestResponse> {
  return server.app.inject({ method, url, ...(payload ? { payload } : {}), ...extra });
}

export const post = (
  server: TestServer,
  url: string,
  payload?: object,
  extra: Omit<InjectOptions, 'method' | 'url' | 'payload'> = {},
) => send(server, 'POST', url, payload, extra);

export interface Mail {
  readonly recipient: string;
  readonly template: MailTemplateName;
  readonly locale: string;
  readonly params: { link?: string; username?: string };
}

export function outbox(server: TestServer, to?: string): Mail[] {
  const rows = server.runtime.db
    .prepare('SELECT recipient, template, locale, params FROM mail_outbox ORDER BY id')
    .all() as { recipient: string; template: MailTemplateName; locale: string; params: string }[];
  return (
    rows
      // Links with tokens are stored sealed; the server's own key opens them, as its sender does.
      .map((r) => ({
        ...r,
        params: paramsOf(r, (cipher) =>
          server.runtime.secrets.decrypt(cipher, MAIL_PARAMS_PURPOSE),
        ),
      }))
      .filter((m) => to === undefined || m.recipient === to)
  );
}

export function lastMail(server: TestServer, to: string, template: MailTemplateName): Mail {
  const mail = outbox(server, to)
    .filter((m) => m.template === template)
    .at(-1);
  if (!mail) throw new Error(`no ${template} mail to ${to}`);
  return mail;
}

/** Follows a mailed link the way a person would: the token comes from its query. */
export function tokenOf(mail: Mail): string {
  const url = new URL(mail.params.link!);
  const token = url.searchParams.get('token');
  if (!token) throw new Error(`no token in ${mail.params.link}`);
  return token;
}

export const emailOf = (username: string) => `${username}@example.test`;
export const PASSWORD = 'first password 1';

export async function register(server: TestServer, username: string, extra: object = {}) {
  const res = await post(server, '/api/v1/auth/register', {
    username,
    email: emailOf(username),
    password: PASSWORD,
    ...extra,
  });
  expect(res.statusCode, res.body).toBe(200);
  return res;
}

export async function confirm(server: TestServer, token: string) {
  return post(server, '/api/v1/auth/confirm', { token });
}

/** Registers through the API and follows the confirmation mail. */
export async function registerConfirmed(server: TestServer, username: string) {
  await register(server, username);
  const res = await confirm(server, tokenOf(lastMail(server, emailOf(username), 'confirm-email')));
  expect(res.statusCode, res.body).toBe(200);
}

export async function login(server: TestServer, username: string, password = PASSWORD) {
  return post(server, '/api/v1/auth/login', { username, password });
}

export async function sessionOf(server: TestServer, username: string, password = PASSWORD) {
  const res = await login(server, username, password);
  expect(res.statusCode, res.body).toBe(200);
  return res.json<{ token: string; user_id: string }>();
}

export const devicesWith = (
  server: TestServer,
  token: string,
  extra: InjectOptions['headers'] = {},
) =>
  send(server, 'GET', '/api/v1/user/devices', undefined, {
    headers: { authorization: `Bearer ${token}`, ...extra },
  });

export function pairWith(server: TestServer, login: string, password: string, vaultId = 'vault-1') {
  return post(server, '/api/client/pair', {
    login,
    password,
    device_name: 'laptop',
    client_version: 'verstak-desktop/v2',
    vault_id: vaultId,
  });
}

export const eventsOfType = (server: TestServer, type: string) =>
  server.runtime.db
    .prepare('SELECT stream, data FROM events WHERE type = ? ORDER BY seq')
    .all(type)
    .map((r) => {
      const row = r as { stream: string; data: string };
      return { stream: row.stream, data: JSON.parse(row.data) as Record<string, unknown> };
    });

/**
 * Headers of two answers that must not tell accounts apart: all but the request id and
 * the Date header (wall-clock seconds, which may tick between the two requests).
 */
export function comparableHeaders(res: LightMyRequestResponse) {
  const { 'x-request-id': _id, date: _date, ...rest } = res.headers;
  return rest;
}
