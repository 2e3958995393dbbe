import { AppError } from '../errors.js';
import type { SMTP_SECURITY } from '../log/index.js';
import { withRuntime } from './data-dir.js';
import { readSecretFile } from './options.js';
import { printJsonLine, printOut } from './output.js';
import { parsePort } from './smtp-options.js';

interface SettingsSmtpOptions {
  data?: string;
  host: string;
  port: string;
  security: (typeof SMTP_SECURITY)[number];
  from: string;
  publicUrl: string;
  user?: string;
  passFile?: string;
  json?: boolean;
}

export async function settingsSmtp(opts: SettingsSmtpOptions): Promise<void> {
  if (opts.passFile !== undefined && !opts.user) throw new Error('--pass-file needs --user');
  const port = parsePort('--port', opts.port);
  const password = opts.passFile !== undefined ? readSecretFile(opts.passFile) : undefined;
  const changed = await withRuntime(opts, (runtime) => {
    try {
      return runtime.settings.changeSmtp(
        {
          host: opts.host,
          port,
          security: opts.security,
          user: opts.user ?? '',
          password,
          from: opts.from,
          publicUrl: opts.publicUrl,
        },
        { actor: 'cli' },
      );
    } catch (err) {
      if (err instanceof AppError) {
        throw new Error(`cannot change the SMTP settings: ${err.message}`, { cause: err });
      }
      throw err;
    }
  });
  if (opts.json) printJsonLine({ changed });
  else printOut(changed ? 'SMTP settings changed\n' : 'SMTP settings unchanged\n');
}
