import { AppError } from '../errors.js';
import { withRuntime } from './data-dir.js';
import { printJsonLine, printOut, text } from './output.js';

interface TestMailOptions {
  data?: string;
  to?: string;
  locale: 'en' | 'ru';
  json?: boolean;
}

export async function settingsTestMail(opts: TestMailOptions): Promise<void> {
  const { mailId, to } = await withRuntime(opts, (runtime) => {
    try {
      return runtime.settings.sendTestMail(opts.to, { actor: 'cli' }, opts.locale);
    } catch (err) {
      if (err instanceof AppError) {
        throw new Error(`cannot queue a test mail: ${err.message}`, { cause: err });
      }
      throw err;
    }
  });
  if (opts.json) printJsonLine({ mail_id: mailId, to });
  else
    printOut(
      text`queued test mail ${mailId} to ${to}; the running server sends it within seconds (see settings show)\n`,
    );
}
