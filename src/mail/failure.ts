/** A mail that can never be sent as it stands (bad header, unknown template): not a server failure. */
export class MailError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MailError';
  }
}

/**
 * Every form in which the SMTP password could travel in a protocol transcript: in clear,
 * and base64 alone or inside an AUTH PLAIN token.
 */
export function secretVariants(user: string, password: string | undefined): string[] {
  if (!password) return [];
  const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
  return [
    password,
    b64(password),
    b64(`\0${user}\0${password}`),
    b64(`${user}\0${user}\0${password}`),
  ];
}

/**
 * The text stored in the outbox and logged for a failed delivery: the error's code and
 * message (an SMTP reply or a socket error) with any form of the password cut out.
 */
export function describeFailure(err: unknown, secrets: readonly string[]): string {
  const e = err as { code?: unknown; message?: unknown };
  const message = typeof e?.message === 'string' ? e.message : String(err);
  const code = typeof e?.code === 'string' && !message.startsWith(e.code) ? `${e.code}: ` : '';
  let text = `${code}${message}`.replace(/\s+/g, ' ').trim();
  for (const secret of [...secrets].sort((a, b) => b.length - a.length)) {
    text = text.split(secret).join('<redacted>');
  }
  return text.slice(0, 500);
}
