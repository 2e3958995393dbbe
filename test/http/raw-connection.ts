import { connect, type Socket } from 'node:net';

/** A raw client socket, with everything it has read and how it ended. */
export interface RawConnection {
  readonly socket: Socket;
  /** Bytes read so far, as latin1 text. */
  received(): string;
  /** Resolves once the server closed (or reset) the connection; `at` is Date.now() then. */
  readonly closed: Promise<{ at: number; error?: string }>;
  /** Resolves with the first complete answer (head and Content-Length body), or undefined at close. */
  answer(): Promise<RawAnswer | undefined>;
}

export interface RawAnswer {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

export function parseAnswer(raw: string): RawAnswer | undefined {
  const end = raw.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const [statusLine = '', ...lines] = raw.slice(0, end).split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const length = Number(headers['content-length'] ?? 0);
  const body = raw.slice(end + 4);
  if (body.length < length) return undefined;
  return { status: Number(statusLine.split(' ')[1]), headers, body: body.slice(0, length) };
}

/** Connects to 127.0.0.1:`port`, from `localAddress` (any 127/8 address) when given. */
export function openConnection(port: number, localAddress?: string): Promise<RawConnection> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1', ...(localAddress ? { localAddress } : {}) });
    let text = '';
    let error: string | undefined;
    const waiting: (() => void)[] = [];
    const wake = () => waiting.splice(0).forEach((w) => w());
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      wake();
    });
    socket.on('error', (err: NodeJS.ErrnoException) => (error ??= err.code ?? err.message));
    const closed = new Promise<{ at: number; error?: string }>((done) =>
      socket.once('close', () => {
        done({ at: Date.now(), ...(error ? { error } : {}) });
        wake();
      }),
    );
    const answer = async () => {
      for (;;) {
        const parsed = parseAnswer(text);
        if (parsed || socket.destroyed) return parsed;
        await new Promise<void>((w) => waiting.push(w));
      }
    };
    socket.once('connect', () => resolve({ socket, received: () => text, closed, answer }));
    socket.once('error', reject);
  });
}

/** The first complete answer read after `from` characters, polling for up to 5 s. */
export async function answerAfter(
  connection: RawConnection,
  from: number,
): Promise<RawAnswer | undefined> {
  for (let i = 0; i < 200; i++) {
    const parsed = parseAnswer(connection.received().slice(from));
    if (parsed || connection.socket.destroyed) return parsed;
    await new Promise((r) => setTimeout(r, 25));
  }
  return undefined;
}

/** `GET path` on an open connection, keeping it alive; resolves with the answer. */
export function get(connection: RawConnection, path: string): Promise<RawAnswer | undefined> {
  const before = connection.received().length;
  connection.socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
  return answerAfter(connection, before);
}
