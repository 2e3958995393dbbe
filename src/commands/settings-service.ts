import { z } from 'zod';
import type { Clock } from '../clock.js';
import { SMTP_SECURITY, WEB_LOCALES, type EventMeta, type Sqlite } from '../log/index.js';
import { enqueueMail, type MailLocale } from '../mail/outbox.js';
import {
  findSettings,
  findWebSettings,
  type SmtpSettings,
  type WebSettings,
} from '../projections/settings.js';
import type { SecretBox } from '../security/secret-box.js';
import type { CommandHandler } from './handle.js';
import { SERVER_STREAM, settingsDecider, UNSET_SMTP, type SettingsState } from './settings.js';
import { EmailSchema, parseOrThrow } from './user-service.js';

/** Bound into the cipher so it only ever decrypts as the SMTP password. */
const PASSWORD_PURPOSE = 'smtp-password';

// Every value here can end up in a mail header or a link: no line breaks, no spaces.
const NO_SPACE = /^[^\s\p{Cc}]*$/u;
const NO_CONTROL = /^[^\p{Cc}]*$/u;

export const PublicUrlSchema = z
  .string()
  .trim()
  .regex(NO_SPACE, 'must not contain spaces or line breaks')
  .refine((value) => {
    if (value === '') return true;
    try {
      const url = new URL(value);
      return (
        (url.protocol === 'https:' || url.protocol === 'http:') &&
        url.username === '' &&
        url.password === '' &&
        url.search === '' &&
        url.hash === ''
      );
    } catch {
      return false;
    }
  }, 'must be an absolute http(s) URL without credentials, query or fragment')
  .transform((value) => (value === '' ? '' : new URL(value).href.replace(/\/+$/, '')));

export const SmtpInputSchema = z
  .object({
    host: z
      .string()
      .trim()
      .max(253, 'is too long')
      .regex(NO_SPACE, 'must be a bare host name or address'),
    port: z.number().int().min(1, 'must be 1-65535').max(65535, 'must be 1-65535'),
    security: z.enum(SMTP_SECURITY),
    user: z
      .string()
      .max(256, 'is too long')
      .regex(NO_CONTROL, 'must not contain line breaks')
      .default(''),
    /** In clear, only on its way to the cipher; undefined keeps the stored password. */
    password: z.string().min(1, 'is empty').max(1024, 'is too long').optional(),
    from: z
      .string()
      .trim()
      .refine(
        (v) => v === '' || EmailSchema.safeParse(v).success,
        'must be a bare address such as sync@example.com',
      ),
    publicUrl: PublicUrlSchema,
  })
  .refine((s) => s.host === '' || s.from !== '', {
    path: ['from'],
    message: 'a sender address is needed when an SMTP host is set',
  });

export type SmtpInput = z.input<typeof SmtpInputSchema>;

export const WebInputSchema = z.object({
  defaultLocale: z.enum(WEB_LOCALES),
  allowRegistration: z.boolean(),
  serverName: z
    .string()
    .trim()
    .max(80, 'is too long')
    .regex(NO_CONTROL, 'must not contain line breaks'),
  publicUrl: PublicUrlSchema,
});

export type WebInput = z.input<typeof WebInputSchema>;

export type SettingsService = ReturnType<typeof createSettingsService>;

export function createSettingsService(deps: {
  db: Sqlite;
  handle: CommandHandler['handle'];
  clock: Clock;
  secrets: SecretBox;
  /** config.yml's web settings: what is in force until an admin saves others. */
  configuredWeb: WebSettings;
}) {
  const { db, handle, clock, secrets, configuredWeb } = deps;
  const loadState = (d: Sqlite): SettingsState => {
    const smtp = findSettings(d);
    const web = findWebSettings(d);
    const state: SettingsState = smtp ? { status: 'set', smtp } : { status: 'unset' };
    return web ? { ...state, web } : state;
  };
  const decryptPassword = (cipher: string) => secrets.decrypt(cipher, PASSWORD_PURPOSE);

  // A cipher is random each time, so an unchanged password keeps its stored cipher:
  // otherwise every server start with --smtp-pass-file would append an event.
  const cipherFor = (password: string | undefined, user: string, stored?: string) => {
    if (user === '') return undefined;
    if (password === undefined) return stored;
    if (stored !== undefined) {
      try {
        if (decryptPassword(stored) === password) return stored;
      } catch {
        // Unreadable with this key: replaced by the new one below.
      }
    }
    return secrets.encrypt(password, PASSWORD_PURPOSE);
  };

  const change = (input: SmtpInput, meta: EventMeta): boolean => {
    const valid = parseOrThrow(SmtpInputSchema, input);
    const stored = findSettings(db);
    const passwordCipher = cipherFor(valid.password, valid.user, stored?.passwordCipher);
    const data: SmtpSettings = {
      host: valid.host,
      port: valid.port,
      security: valid.security,
      user: valid.user,
      ...(passwordCipher !== undefined ? { passwordCipher } : {}),
      from: valid.from,
      publicUrl: valid.publicUrl,
    };
    const events = handle({
      stream: SERVER_STREAM,
      decider: settingsDecider,
      meta,
      loadState,
      command: { type: 'ChangeSmtpSettings' as const, data },
    });
    return events.length > 0;
  };

  return {
    /** The stored settings (the password only as its cipher). */
    current: (): SmtpSettings | undefined => findSettings(db),
    decryptPassword,
    /** Replaces the SMTP settings; without a password the stored one is kept. */
    changeSmtp: change,
    /**
     * Start-up flags and environment: only the given fields override the stored ones, and
     * an event is appended only when the result differs. Returns whether it did.
     */
    applyOverrides(overrides: Partial<SmtpInput>, meta: EventMeta): boolean {
      if (Object.keys(overrides).length === 0) return false;
      // The stored cipher is not an input field: parsing drops it, and `change` keeps it.
      const stored: SmtpInput = findSettings(db) ?? UNSET_SMTP;
      return change({ ...stored, ...overrides }, meta);
    },
    /**
     * The console's web settings and the public URL. Appends WebSettingsChanged when the
     * former differ from those in force, and SmtpSettingsChanged (the public URL's one
     * source) when the latter does; returns whether anything changed.
     */
    changeWeb(input: WebInput, meta: EventMeta): boolean {
      const { publicUrl, ...web } = parseOrThrow(WebInputSchema, input);
      const events = handle({
        stream: SERVER_STREAM,
        decider: settingsDecider,
        meta,
        loadState,
        command: {
          type: 'ChangeWebSettings' as const,
          data: { ...web, publicUrl },
          configured: configuredWeb,
        },
      });
      return events.length > 0;
    },
    /** Queues an smtp-test mail, to the sender address by default; the admin watches its row. */
    sendTestMail(
      to: string | undefined,
      meta: EventMeta,
      locale: MailLocale = 'en',
    ): { mailId: number; to: string } {
      const recipient = parseOrThrow(z.object({ to: EmailSchema }), {
        to: to ?? findSettings(db)?.from ?? '',
      }).to;
      let mailId = 0;
      handle({
        stream: SERVER_STREAM,
        decider: settingsDecider,
        meta,
        loadState,
        command: { type: 'RequestSmtpTest' as const, data: { to: recipient } },
        sideEffects: (d) => {
          mailId = enqueueMail(
            d,
            { to: recipient, template: 'smtp-test', locale, params: {} },
            clock.now(),
          );
        },
      });
      return { mailId, to: recipient };
    },
  };
}
