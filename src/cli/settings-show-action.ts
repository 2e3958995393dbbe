import { pendingMailCounts } from '../mail/outbox.js';
import { isSmtpConfigured } from '../projections/settings.js';
import { withRuntime } from './data-dir.js';
import { formatTable, printJsonLine, printOut } from './output.js';

const MASK = '********';

export async function settingsShow(opts: { data?: string; json?: boolean }): Promise<void> {
  const { smtp, outbox } = await withRuntime(opts, (runtime) => ({
    smtp: runtime.settings.current(),
    outbox: pendingMailCounts(runtime.db),
  }));
  // The password is shown only as present or absent, never even as its cipher.
  const view = {
    configured: isSmtpConfigured(smtp),
    host: smtp?.host ?? '',
    port: smtp?.port ?? null,
    security: smtp?.security ?? null,
    user: smtp?.user ?? '',
    password: smtp?.passwordCipher !== undefined ? MASK : null,
    from: smtp?.from ?? '',
    public_url: smtp?.publicUrl ?? '',
    outbox,
  };
  if (opts.json) {
    printJsonLine(view);
    return;
  }
  const show = (v: string | number | null) => (v === null || v === '' ? '-' : String(v));
  printOut(
    formatTable(
      ['SETTING', 'VALUE'],
      [
        ['smtp', view.configured ? 'configured' : 'not configured (mails wait in the outbox)'],
        ['smtp host', show(view.host)],
        ['smtp port', show(view.port)],
        ['smtp security', show(view.security)],
        ['smtp user', show(view.user)],
        ['smtp password', show(view.password)],
        ['smtp from', show(view.from)],
        ['public url', show(view.public_url)],
        ['outbox', `${outbox.waiting} waiting, ${outbox.failing} of them failed at least once`],
      ],
    ),
  );
}
