import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, expect } from 'vitest';
import { createLogger } from '../../src/logger.js';
import { createMailer } from '../../src/mail/mailer.js';
import type { MailSender } from '../../src/mail/sender.js';
import { startSmtpServer, type SmtpServerOptions, type TestSmtpServer } from '../helpers/smtp.js';
import type { TestServer, TestServerOptions } from '../helpers/sync-app.js';
import { ADMIN_PASSWORD, adminBrowser, logHead, startAdminServer } from './admin-rig.js';
import { hiddenFields, type WebClient } from './browser-client.js';

export const FROM = 'sync@example.test';
export const SMTP_USER = 'mailer';
export const SMTP_PASS = 'smtp secret pass 42';

let sinks: TestSmtpServer[] = [];
let mailers: MailSender[] = [];
afterEach(async () => {
  for (const m of mailers) await m.stop();
  for (const s of sinks) await s.close();
  mailers = [];
  sinks = [];
});

export interface SettingsRig {
  readonly server: TestServer;
  readonly client: WebClient;
  /** Every line the app and the mailer logged. */
  readonly logs: string[];
}

/** An admin server whose log lines are kept, and a browser signed in to it. */
export async function startSettingsRig(options: TestServerOptions = {}): Promise<SettingsRig> {
  const logs: string[] = [];
  const logger = createLogger({
    level: 'trace',
    destination: { write: (line: string) => void logs.push(line) },
  });
  const server = await startAdminServer({ logger, ...options });
  const client = await adminBrowser(server);
  return { server, client, logs };
}

/** The outbox sender as `serve` runs it, speaking SMTP to whatever the settings name. */
export function startMailer(rig: SettingsRig): MailSender {
  const logger = createLogger({
    level: 'trace',
    destination: { write: (line: string) => void rig.logs.push(line) },
  });
  const mailer = createMailer(rig.server.runtime, logger, { pollMs: 200 });
  mailer.start();
  mailers.push(mailer);
  return mailer;
}

/** A real SMTP server on 127.0.0.1 that keeps what it receives. */
export async function startSink(options: SmtpServerOptions = {}): Promise<TestSmtpServer> {
  const sink = await startSmtpServer(options);
  sinks.push(sink);
  return sink;
}

/** A port on which nothing listens: a mail server that is down. */
export async function closedPort(): Promise<number> {
  const sink = await startSmtpServer();
  await sink.close();
  return sink.port;
}

/** Posts one of the settings page's forms to /admin/action, as its button does. */
export async function settingsAction(
  client: WebClient,
  action: string,
  fields: Record<string, string>,
  password = ADMIN_PASSWORD,
) {
  const html = (await client.get('/admin/settings')).body;
  return client.post('/admin/action', {
    csrf_token: hiddenFields(html).csrf_token ?? '',
    ...fields,
    password,
    action,
  });
}

export interface LoggedEvent {
  readonly type: string;
  readonly data: Record<string, unknown>;
}

/** The events appended after `head`, in order. */
export function eventsSince(server: TestServer, head: number): LoggedEvent[] {
  return (
    server.runtime.db
      .prepare('SELECT type, data FROM events WHERE seq > ? ORDER BY seq')
      .all(head) as { type: string; data: string }[]
  ).map((e) => ({ type: e.type, data: JSON.parse(e.data) as Record<string, unknown> }));
}

/** Runs `act` and returns the events it appended. */
export async function appendedBy(server: TestServer, act: () => Promise<unknown>) {
  const head = logHead(server);
  await act();
  return eventsSince(server, head);
}

/** Every byte the server keeps on disk: the database, its WAL, config.yml, keys. */
export function diskBytes(server: TestServer): Buffer {
  const files = readdirSync(server.dir).filter((f) => !f.startsWith('blobs') && f !== 'tmp');
  return Buffer.concat(files.map((f) => readFileSync(join(server.dir, f))));
}

/** The SMTP password in no form that would give it away: clear, base64, AUTH PLAIN. */
export function expectNoSmtpPassword(haystack: string | Buffer, label: string) {
  const text = typeof haystack === 'string' ? haystack : haystack.toString('latin1');
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  for (const form of [SMTP_PASS, b64(SMTP_PASS), b64(`\0${SMTP_USER}\0${SMTP_PASS}`)]) {
    expect(text.includes(form), `${label} holds the SMTP password`).toBe(false);
  }
}
