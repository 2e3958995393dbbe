import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { parseMail } from './mime.js';

export interface ReceivedMail {
  /** Envelope sender (MAIL FROM). */
  readonly from: string;
  /** Envelope recipients (RCPT TO). */
  readonly to: string[];
  /** The message as received, one character per byte. */
  readonly raw: string;
  readonly subject: string;
  readonly text: string;
  readonly html: string;
  readonly headers: Map<string, string[]>;
  /** Whether the session ran over TLS (implicit or after STARTTLS). */
  readonly tls: boolean;
  /** The user the session authenticated as, if any. */
  readonly user?: string;
}

export interface TestCertificate {
  readonly key: string;
  readonly cert: string;
}

export interface SmtpServerOptions {
  /** Implicit TLS from the first byte (port 465 style). */
  readonly secure?: boolean;
  /** Offer STARTTLS on a plain connection; off by default. */
  readonly starttls?: boolean;
  /** Require AUTH with exactly these credentials. */
  readonly auth?: { readonly user: string; readonly pass: string };
  /** Key and certificate for secure/starttls; defaults to testCertificate(). */
  readonly certificate?: TestCertificate;
  /** Listen on this port (to bring a server "back up"); 0 by default. */
  readonly port?: number;
}

export interface TestSmtpServer {
  readonly port: number;
  readonly messages: ReceivedMail[];
  /** Every AUTH attempt, with the password as the client sent it. */
  readonly authAttempts: { user: string; pass: string; ok: boolean }[];
  waitForMessages(count: number, timeoutMs?: number): Promise<ReceivedMail[]>;
  close(): Promise<void>;
}

let certificate: TestCertificate | null | undefined;

/**
 * A self-signed certificate for 127.0.0.1 and localhost, made once per test process with
 * openssl; undefined when openssl is not installed (TLS tests then skip).
 */
export function testCertificate(): TestCertificate | undefined {
  if (certificate !== undefined) return certificate ?? undefined;
  const dir = mkdtempSync(join(tmpdir(), 'verstak-cert-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
        '-days',
        '2',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=IP:127.0.0.1,DNS:localhost',
      ],
      { stdio: 'ignore' },
    );
    certificate = {
      key: readFileSync(join(dir, 'key.pem'), 'utf8'),
      cert: readFileSync(join(dir, 'cert.pem'), 'utf8'),
    };
  } catch {
    certificate = null;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return certificate ?? undefined;
}

const servers = new Set<TestSmtpServer>();

/** A real SMTP server on 127.0.0.1 that keeps every message it accepts. */
export async function startSmtpServer(options: SmtpServerOptions = {}): Promise<TestSmtpServer> {
  const tlsWanted = options.secure === true || options.starttls === true;
  const cert = tlsWanted ? (options.certificate ?? testCertificate()) : undefined;
  if (tlsWanted && !cert) throw new Error('TLS test server needs openssl for a certificate');
  const messages: ReceivedMail[] = [];
  const authAttempts: TestSmtpServer['authAttempts'] = [];
  const disabled = [...(options.starttls ? [] : ['STARTTLS']), ...(options.auth ? [] : ['AUTH'])];
  const config: SMTPServerOptions = {
    secure: options.secure === true,
    ...(cert ? { key: cert.key, cert: cert.cert } : {}),
    disabledCommands: disabled,
    hideSTARTTLS: !options.starttls,
    authOptional: !options.auth,
    allowInsecureAuth: true,
    logger: false,
    closeTimeout: 1000,
    onAuth(auth, _session, callback) {
      const ok = auth.username === options.auth?.user && auth.password === options.auth?.pass;
      authAttempts.push({ user: auth.username ?? '', pass: auth.password ?? '', ok });
      if (ok) callback(null, { user: auth.username });
      else callback(new Error('Invalid username or password'));
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks).toString('binary');
        const mailFrom = session.envelope.mailFrom;
        messages.push({
          from: mailFrom ? mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          raw,
          ...parseMail(raw),
          tls: session.secure,
          user: typeof session.user === 'string' ? session.user : undefined,
        });
        callback();
      });
    },
  };
  const smtp = new SMTPServer(config);
  smtp.on('error', () => undefined);
  await new Promise<void>((ok, fail) => {
    smtp.server.once('error', fail);
    smtp.listen(options.port ?? 0, '127.0.0.1', () => ok());
  });
  const server: TestSmtpServer = {
    port: (smtp.server.address() as AddressInfo).port,
    messages,
    authAttempts,
    async waitForMessages(count, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (messages.length < count) {
        if (Date.now() > deadline) {
          throw new Error(`expected ${count} messages, got ${messages.length} in ${timeoutMs} ms`);
        }
        await new Promise((r) => setTimeout(r, 20));
      }
      return messages;
    },
    close() {
      servers.delete(server);
      return new Promise((ok) => smtp.close(() => ok()));
    },
  };
  servers.add(server);
  return server;
}

/** Closes every server a test left open; call from afterEach. */
export async function closeSmtpServers(): Promise<void> {
  await Promise.all([...servers].map((s) => s.close()));
}
