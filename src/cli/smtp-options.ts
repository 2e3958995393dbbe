import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Option, type Command } from 'commander';
import type { Logger } from 'pino';
import type { SmtpInput } from '../commands/settings-service.js';
import { SMTP_SECURITY } from '../log/index.js';
import type { Runtime } from '../runtime.js';
import { readSecretFile } from './options.js';

/** `serve` flags that set the mail settings at start-up (each also has an env variable). */
export interface SmtpFlags {
  smtpHost?: string;
  smtpPort?: string;
  smtpSecurity?: string;
  smtpUser?: string;
  smtpPassFile?: string;
  smtpFrom?: string;
  publicUrl?: string;
}

export function addSmtpFlags(command: Command): Command {
  return command
    .option('--smtp-host <host>', 'SMTP server (env VERSTAK_SMTP_HOST)')
    .option('--smtp-port <port>', 'SMTP port (env VERSTAK_SMTP_PORT)')
    .addOption(
      new Option(
        '--smtp-security <mode>',
        'none, starttls or tls (env VERSTAK_SMTP_SECURITY)',
      ).choices(SMTP_SECURITY),
    )
    .option('--smtp-user <user>', 'SMTP user; empty for no authentication (env VERSTAK_SMTP_USER)')
    .option(
      '--smtp-pass-file <file>',
      'read the SMTP password from a file (env VERSTAK_SMTP_PASS_FILE; default $CREDENTIALS_DIRECTORY/smtp-password)',
    )
    .option('--smtp-from <address>', 'sender address of every mail (env VERSTAK_SMTP_FROM)')
    .option('--public-url <url>', 'base URL of links in mails (env VERSTAK_PUBLIC_URL)');
}

export function parsePort(name: string, value: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port < 1 || port > 65535) {
    throw new Error(`${name} must be a port number 1-65535`);
  }
  return port;
}

/**
 * The mail settings named on the command line, in the environment or in config.yml (in
 * that order of precedence); fields named nowhere keep their stored values.
 */
export function smtpOverridesOf(
  flags: SmtpFlags,
  env: NodeJS.ProcessEnv,
  configuredPublicUrl: string,
): Partial<SmtpInput> {
  const pick = (flag: string | undefined, name: string) => flag ?? env[name];
  const overrides: Partial<SmtpInput> = {};
  const host = pick(flags.smtpHost, 'VERSTAK_SMTP_HOST');
  if (host !== undefined) overrides.host = host;
  const port = pick(flags.smtpPort, 'VERSTAK_SMTP_PORT');
  if (port !== undefined) overrides.port = parsePort('--smtp-port', port);
  const security = pick(flags.smtpSecurity, 'VERSTAK_SMTP_SECURITY');
  if (security !== undefined) overrides.security = security as SmtpInput['security'];
  const user = pick(flags.smtpUser, 'VERSTAK_SMTP_USER');
  if (user !== undefined) overrides.user = user;
  const from = pick(flags.smtpFrom, 'VERSTAK_SMTP_FROM');
  if (from !== undefined) overrides.from = from;
  const publicUrl =
    pick(flags.publicUrl, 'VERSTAK_PUBLIC_URL') ?? (configuredPublicUrl || undefined);
  if (publicUrl !== undefined) overrides.publicUrl = publicUrl;
  // The password only ever comes from a file: argv and environment are readable by others.
  const credential = env.CREDENTIALS_DIRECTORY && join(env.CREDENTIALS_DIRECTORY, 'smtp-password');
  const passFile =
    pick(flags.smtpPassFile, 'VERSTAK_SMTP_PASS_FILE') ??
    (credential && existsSync(credential) ? credential : undefined);
  if (passFile !== undefined) overrides.password = readSecretFile(passFile);
  return overrides;
}

/** Appends SmtpSettingsChanged at start-up when flags or environment differ from the log. */
export function applyStartupMailSettings(
  runtime: Pick<Runtime, 'settings' | 'config'>,
  flags: SmtpFlags,
  env: NodeJS.ProcessEnv,
  logger: Logger,
): void {
  try {
    const overrides = smtpOverridesOf(flags, env, runtime.config.public_url);
    if (runtime.settings.applyOverrides(overrides, { actor: 'config' })) {
      logger.info('mail settings changed by flags or environment');
    }
  } catch (err) {
    throw new Error(`invalid mail settings: ${(err as Error).message}`, { cause: err });
  }
}
