import { z } from 'zod';
import { defineEvent } from '../catalogue.js';

export const SMTP_SECURITY = ['none', 'starttls', 'tls'] as const;

/**
 * The complete SMTP and link settings after a change (not a patch), so the settings
 * projection is the last such event. An empty host means mail is not configured.
 */
export const SmtpSettingsChanged = defineEvent(
  'SmtpSettingsChanged',
  z.object({
    host: z.string(),
    port: z.number().int().min(1).max(65535),
    security: z.enum(SMTP_SECURITY),
    /** Empty: no SMTP authentication. */
    user: z.string(),
    /** AES-256-GCM under a key kept outside the database; never the password in clear. */
    passwordCipher: z.string().optional(),
    from: z.string(),
    /** Base of every link in a mail, without a trailing slash; empty when not set. */
    publicUrl: z.string(),
  }),
  { redact: ['passwordCipher'] },
);

/** An admin asked for a test mail; the mail itself is an outbox row of the same command. */
export const SmtpTestRequested = defineEvent('SmtpTestRequested', z.object({ to: z.string() }));

export const WEB_LOCALES = ['en', 'ru'] as const;

/**
 * The console's web settings after a change (not a patch). The public URL is not here: it
 * stays in SmtpSettingsChanged, its one source, which the web settings form also appends.
 */
export const WebSettingsChanged = defineEvent(
  'WebSettingsChanged',
  z.object({
    /** For a browser that names no language it can read. */
    defaultLocale: z.enum(WEB_LOCALES),
    allowRegistration: z.boolean(),
    /** Shown in the page header and title; empty: the product's name. */
    serverName: z.string(),
  }),
);

export const SETTINGS_EVENTS = [
  SmtpSettingsChanged,
  SmtpTestRequested,
  WebSettingsChanged,
] as const;
