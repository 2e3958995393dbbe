/**
 * Just enough RFC 5322 / MIME parsing to check what a mail client would show: headers
 * with RFC 2047 words decoded, and the text and HTML parts with their transfer encodings
 * undone. Only what nodemailer produces: no nested encodings beyond multipart/alternative.
 */
export interface ParsedMail {
  /** Lower-cased header name → decoded values, in order. */
  readonly headers: Map<string, string[]>;
  readonly subject: string;
  readonly text: string;
  readonly html: string;
}

function decodeBytes(bytes: Buffer, charset: string): string {
  return new TextDecoder(charset.toLowerCase() || 'utf-8').decode(bytes);
}

function decodeQ(text: string, underscoreIsSpace: boolean): Buffer {
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '=' && /^[0-9A-Fa-f]{2}$/.test(text.slice(i + 1, i + 3))) {
      bytes.push(parseInt(text.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (c === '_' && underscoreIsSpace) {
      bytes.push(0x20);
    } else {
      // The raw message is a binary string: each character is one byte.
      bytes.push(c.charCodeAt(0) & 0xff);
    }
  }
  return Buffer.from(bytes);
}

/** RFC 2047 encoded words; whitespace between two adjacent words is not part of the text. */
export function decodeWords(value: string): string {
  return value
    .replace(/(=\?[^?]+\?[BbQq]\?[^?]*\?=)\s+(?==\?)/g, '$1')
    .replace(
      /=\?([^?*]+)(?:\*[^?]*)?\?([BbQq])\?([^?]*)\?=/g,
      (_, charset: string, enc: string, text: string) =>
        decodeBytes(
          enc.toUpperCase() === 'B' ? Buffer.from(text, 'base64') : decodeQ(text, true),
          charset,
        ),
    );
}

function splitHead(raw: string): { headers: Map<string, string[]>; body: string } {
  const end = raw.indexOf('\r\n\r\n');
  const head = end < 0 ? raw : raw.slice(0, end);
  const body = end < 0 ? '' : raw.slice(end + 4);
  const headers = new Map<string, string[]>();
  for (const line of head.replace(/\r\n[ \t]+/g, ' ').split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    headers.set(name, [...(headers.get(name) ?? []), decodeWords(line.slice(colon + 1).trim())]);
  }
  return { headers, body };
}

function param(header: string, name: string): string | undefined {
  const match = new RegExp(`;\\s*${name}="?([^";]+)"?`, 'i').exec(header);
  return match?.[1];
}

function decodeBody(body: string, headers: Map<string, string[]>): string {
  const type = headers.get('content-type')?.[0] ?? 'text/plain; charset=us-ascii';
  const charset = param(type, 'charset') ?? 'us-ascii';
  const encoding = (headers.get('content-transfer-encoding')?.[0] ?? '7bit').toLowerCase();
  if (encoding === 'base64')
    return decodeBytes(Buffer.from(body.replace(/\s+/g, ''), 'base64'), charset);
  if (encoding === 'quoted-printable')
    return decodeBytes(decodeQ(body.replace(/=\r\n/g, ''), false), charset);
  return decodeBytes(Buffer.from(body, 'binary'), charset);
}

function leaves(raw: string): { type: string; content: string }[] {
  const { headers, body } = splitHead(raw);
  const type = headers.get('content-type')?.[0] ?? 'text/plain';
  if (!type.toLowerCase().startsWith('multipart/')) {
    return [{ type: type.split(';')[0]!.trim().toLowerCase(), content: decodeBody(body, headers) }];
  }
  const boundary = param(type, 'boundary');
  if (!boundary) throw new Error('multipart without a boundary');
  const parts = body.split(`--${boundary}`).slice(1);
  return parts
    .filter((p) => !p.startsWith('--'))
    .flatMap((p) => leaves(p.replace(/^\r\n/, '').replace(/\r\n$/, '')));
}

/** `raw` is the message as the SMTP server received it (binary string of its bytes). */
export function parseMail(raw: string): ParsedMail {
  const { headers } = splitHead(raw);
  const parts = leaves(raw);
  return {
    headers,
    subject: headers.get('subject')?.[0] ?? '',
    text: parts.find((p) => p.type === 'text/plain')?.content ?? '',
    html: parts.find((p) => p.type === 'text/html')?.content ?? '',
  };
}
