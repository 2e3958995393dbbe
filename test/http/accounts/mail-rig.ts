import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { expect } from 'vitest';
import { createManualClock } from '../../../src/clock.js';
import { createLogger } from '../../../src/logger.js';
import { createMailer } from '../../../src/mail/mailer.js';
import type { MailSender } from '../../../src/mail/sender.js';
import {
  startSmtpServer,
  type ReceivedMail,
  type SmtpServerOptions,
  type TestSmtpServer,
} from '../../helpers/smtp.js';
import { startTestServer, type TestServer } from '../../helpers/sync-app.js';

export const PUBLIC_URL = 'https://sync.example.test';
export const FROM = 'sync@example.test';
export const START = '2026-03-01T10:00:00.000Z';
export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;

export type ManualClock = ReturnType<typeof createManualClock>;

/**
 * A whole server the way `serve` runs it, minus the listening socket: the app answers
 * through inject, and the real mailer speaks SMTP to a test server on 127.0.0.1.
 */
export interface MailFlow {
  readonly server: TestServer;
  /** The SMTP server on the configured port; throws while it is down. */
  readonly smtp: TestSmtpServer;
  /** Brings the SMTP server up on the configured port. */
  startSmtp(): Promise<TestSmtpServer>;
  readonly mailer: MailSender;
  readonly clock: ManualClock;
  /** Every line the app and the mailer logged. */
  readonly logs: string[];
  /** Every answer given through `request`, for the secrets checks. */
  readonly answers: LightMyRequestResponse[];
  request(opts: InjectOptions): Promise<LightMyRequestResponse>;
  post(
    url: string,
    payload: object,
    extra?: Omit<InjectOptions, 'url' | 'payload'>,
  ): Promise<LightMyRequestResponse>;
  /** Waits until `count` mails to `to` have reached the SMTP server and returns them all. */
  mailsTo(to: string, count: number): Promise<ReceivedMail[]>;
  close(): Promise<void>;
}

export interface MailFlowOptions {
  /** SMTP AUTH required by the test server and configured through the settings. */
  readonly auth?: { user: string; pass: string };
  /**
   * Reserve the port the settings name, but leave nothing listening on it until
   * `startSmtp()`: the SMTP server is down when the first mails are written.
   */
  readonly smtpDown?: boolean;
  /** Do not start the mailer's timer and nudges: the test drives `deliverDue` itself. */
  readonly manualDelivery?: boolean;
  /** How often the started mailer looks for due retries. */
  readonly pollMs?: number;
}

const flows = new Set<MailFlow>();

export async function startMailFlow(options: MailFlowOptions = {}): Promise<MailFlow> {
  const clock = createManualClock(START);
  const logs: string[] = [];
  const logger = createLogger({
    level: 'trace',
    destination: { write: (line: string) => void logs.push(line) },
  });
  // No public_url in config.yml: every link must come from the settings below.
  const server = await startTestServer({ clock, logger });
  const smtpOptions: SmtpServerOptions = options.auth ? { auth: options.auth } : {};
  let smtp: TestSmtpServer | undefined = await startSmtpServer(smtpOptions);
  const port = smtp.port;
  if (options.smtpDown) {
    // Listened on once and closed: a port that refuses connections, like a server that is down.
    await smtp.close();
    smtp = undefined;
  }
  server.runtime.settings.changeSmtp(
    {
      host: '127.0.0.1',
      port,
      security: 'none',
      from: FROM,
      publicUrl: PUBLIC_URL,
      ...(options.auth ? { user: options.auth.user, password: options.auth.pass } : {}),
    },
    { actor: 'test' },
  );
  const mailer = createMailer(
    server.runtime,
    logger,
    options.pollMs ? { pollMs: options.pollMs } : {},
  );
  if (!options.manualDelivery) mailer.start();
  const answers: LightMyRequestResponse[] = [];
  const request = async (opts: InjectOptions) => {
    const res = await server.app.inject(opts);
    answers.push(res);
    return res;
  };
  const up = () => {
    if (!smtp) throw new Error('the SMTP server is down');
    return smtp;
  };
  const flow: MailFlow = {
    server,
    get smtp() {
      return up();
    },
    async startSmtp() {
      smtp = await startSmtpServer({ ...smtpOptions, port });
      return smtp;
    },
    mailer,
    clock,
    logs,
    answers,
    request,
    post: (url, payload, extra = {}) => request({ ...extra, method: 'POST', url, payload }),
    async mailsTo(to, count) {
      const deadline = Date.now() + 10_000;
      const received = () => up().messages.filter((m) => m.to.includes(to));
      while (received().length < count) {
        if (Date.now() > deadline) {
          throw new Error(`expected ${count} mails to ${to}, got ${received().length}`);
        }
        await new Promise((r) => setTimeout(r, 10));
      }
      return received();
    },
    async close() {
      flows.delete(flow);
      await mailer.stop();
      await server.close();
      await smtp?.close();
    },
  };
  flows.add(flow);
  return flow;
}

/** A real listener, named as the public URL: mailed links and the Origin check use it. */
export async function listenAsPublicUrl(flow: MailFlow): Promise<string> {
  const base = await flow.server.app.listen({ port: 0, host: '127.0.0.1' });
  flow.server.runtime.settings.applyOverrides({ publicUrl: base }, { actor: 'test' });
  return base;
}

export async function closeMailFlows(): Promise<void> {
  await Promise.all([...flows].map((f) => f.close()));
}

export const emailOf = (username: string) => `${username}@example.test`;
export const PASSWORD = 'first password 1';
export const NEW_PASSWORD = 'second password 2';

/** The one link of a mail: in the text part as a bare URL and in the HTML part as an anchor. */
export function linkOf(mail: ReceivedMail, path: string): string {
  const pattern = new RegExp(`https?://[^\\s"<>]+${path.replace(/[?]/g, '\\?')}[^\\s"<>]*`, 'g');
  const inText = mail.text.match(pattern) ?? [];
  expect(inText, mail.text).toHaveLength(1);
  const link = inText[0]!;
  expect(mail.html).toContain(`href="${link.replace(/&/g, '&amp;')}"`);
  return link;
}

export function tokenIn(link: string): string {
  const token = new URL(link).searchParams.get('token');
  if (!token) throw new Error(`no token in ${link}`);
  return token;
}

/** Path and query of a mailed link: what the browser asks the server for. */
export const pathOf = (link: string) => {
  const url = new URL(link);
  return `${url.pathname}${url.search}`;
};

export function register(
  flow: MailFlow,
  username: string,
  extra: object = {},
  headers: Record<string, string> = {},
) {
  return flow.post(
    '/api/v1/auth/register',
    { username, email: emailOf(username), password: PASSWORD, ...extra },
    { headers },
  );
}

export const login = (flow: MailFlow, username: string, password = PASSWORD) =>
  flow.post('/api/v1/auth/login', { username, password });

export const confirm = (flow: MailFlow, token: string) =>
  flow.post('/api/v1/auth/confirm', { token });

export const pairDevice = (
  flow: MailFlow,
  login: string,
  password = PASSWORD,
  vaultId = 'vault-1',
) =>
  flow.post('/api/client/pair', {
    login,
    password,
    device_name: 'laptop',
    client_version: 'verstak-desktop/v2',
    vault_id: vaultId,
  });

export const devices = (flow: MailFlow, sessionToken: string) =>
  flow.request({
    method: 'GET',
    url: '/api/v1/user/devices',
    headers: { authorization: `Bearer ${sessionToken}` },
  });

/** Registers, takes the link from the delivered mail and confirms it; returns the mail. */
export async function registerConfirmed(flow: MailFlow, username: string) {
  const before = flow.smtp.messages.filter((m) => m.to.includes(emailOf(username))).length;
  expect((await register(flow, username)).statusCode).toBe(200);
  const [mail] = (await flow.mailsTo(emailOf(username), before + 1)).slice(-1);
  const res = await confirm(flow, tokenIn(linkOf(mail!, '/api/v1/auth/confirm?token=')));
  expect(res.statusCode, res.body).toBe(200);
  return mail!;
}

/** Headers that must not tell two answers apart: all but the request id and the Date. */
export function comparableHeaders(res: LightMyRequestResponse) {
  const { 'x-request-id': _id, date: _date, ...rest } = res.headers;
  return rest;
}
