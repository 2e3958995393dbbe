import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Clock } from '../../src/clock.js';
import type { SmtpInput } from '../../src/commands/settings-service.js';
import { createLogger } from '../../src/logger.js';
import { createMailer, type MailerOptions } from '../../src/mail/mailer.js';
import { enqueueMail, findMail, type OutboxMail } from '../../src/mail/outbox.js';
import type { MailSender } from '../../src/mail/sender.js';
import { openRuntime, type Runtime } from '../../src/runtime.js';

export const FROM = 'sync@example.test';
export const PUBLIC_URL = 'https://sync.example.test';

export interface MailTestRig {
  readonly dir: string;
  readonly runtime: Runtime;
  /** Every log line the mailer wrote, as JSON text. */
  readonly logs: string[];
  mailer(options?: MailerOptions): MailSender;
  /** Points the server at a test SMTP server on 127.0.0.1. */
  configure(settings: Partial<SmtpInput> & { port: number }): void;
  /** Writes an outbox row directly, as a command's side effect would. */
  queue(mail: Partial<OutboxMail>): number;
  row(id: number): NonNullable<ReturnType<typeof findMail>>;
  close(): Promise<void>;
}

const rigs = new Set<MailTestRig>();

/** A data directory on disk (the secret key lives beside the database) and its runtime. */
export function openMailRig(options: { clock?: Clock } = {}): MailTestRig {
  const dir = mkdtempSync(join(tmpdir(), 'verstak-mail-'));
  const runtime = openRuntime({ dataDir: dir, clock: options.clock });
  const logs: string[] = [];
  const logger = createLogger({
    level: 'debug',
    destination: { write: (line) => logs.push(line) },
  });
  const senders: MailSender[] = [];
  const rig: MailTestRig = {
    dir,
    runtime,
    logs,
    mailer(mailerOptions) {
      const sender = createMailer(runtime, logger, mailerOptions);
      senders.push(sender);
      return sender;
    },
    configure(settings) {
      runtime.settings.changeSmtp(
        { host: '127.0.0.1', security: 'none', from: FROM, publicUrl: PUBLIC_URL, ...settings },
        { actor: 'test' },
      );
    },
    queue(mail) {
      return enqueueMail(
        runtime.db,
        {
          to: 'alice@example.test',
          template: 'confirm-email',
          locale: 'en',
          params: { link: `${PUBLIC_URL}/confirm#t=abc`, username: 'alice' },
          ...mail,
        },
        runtime.clock.now(),
      );
    },
    row(id) {
      const row = findMail(runtime.db, id);
      if (!row) throw new Error(`no outbox row ${id}`);
      return row;
    },
    async close() {
      rigs.delete(rig);
      await Promise.all(senders.map((s) => s.stop()));
      runtime.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  rigs.add(rig);
  return rig;
}

export async function closeMailRigs(): Promise<void> {
  await Promise.all([...rigs].map((r) => r.close()));
}
