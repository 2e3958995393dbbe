import { createServer, type Server } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { checkPage } from '../../scripts/bench/pull-load.js';
import { RawHttpConnection } from '../../scripts/bench/raw-http.js';

// The bench's pull client talks HTTP/1.1 on a bare socket; it must still read answers
// properly, or the figures would count pages that were never whole.

let server: Server | undefined;
afterEach(async () => {
  const open = server;
  server = undefined;
  if (!open) return;
  open.closeAllConnections();
  await new Promise((r) => open.close(r));
});

async function listen(handler: Parameters<typeof createServer>[1]) {
  server = createServer(handler);
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

describe('the raw bench connection', () => {
  it('reads status and body by Content-Length, many requests on one connection', async () => {
    const big = 'x'.repeat(300_000);
    const sockets = new Set<unknown>();
    const port = await listen((req, res) => {
      sockets.add(req.socket);
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        const answer =
          body === 'big' ? big : `${req.method} ${req.url} ${req.headers.authorization} ${body}`;
        res.writeHead(body === 'missing' ? 404 : 200, {
          'content-length': Buffer.byteLength(answer),
        });
        res.end(answer);
      });
    });
    const connection = new RawHttpConnection('127.0.0.1', port);
    const first = await connection.post('/a', 'hello', 'tok');
    expect([first.status, first.body.toString()]).toEqual([200, 'POST /a Bearer tok hello']);
    expect((await connection.post('/b', 'big')).body.toString()).toBe(big);
    expect((await connection.post('/c', 'missing')).status).toBe(404);
    expect(sockets.size).toBe(1);
    connection.close();
  });

  it('reads an answer whose head and body arrive in pieces', async () => {
    const raw = createNetServer((socket) => {
      socket.once('data', () => {
        const parts = ['HTTP/1.1 200 OK\r\nContent-Le', 'ngth: 5\r\n\r\nhe', 'l', 'lo'];
        const next = () => {
          const part = parts.shift();
          if (part === undefined) return;
          socket.write(part);
          setTimeout(next, 5);
        };
        next();
      });
    });
    await new Promise<void>((r) => raw.listen(0, '127.0.0.1', r));
    const connection = new RawHttpConnection('127.0.0.1', (raw.address() as AddressInfo).port);
    try {
      const res = await connection.post('/', '');
      expect([res.status, res.body.toString()]).toEqual([200, 'hello']);
    } finally {
      connection.close();
      await new Promise((r) => raw.close(r));
    }
  });

  it('refuses a chunked answer and one the server closes', async () => {
    const port = await listen((req, res) => {
      req.resume();
      req.on('end', () => {
        if (req.url === '/chunked') {
          res.write('no ');
          res.end('length');
        } else res.socket?.destroy();
      });
    });
    await expect(new RawHttpConnection('127.0.0.1', port).post('/chunked', '')).rejects.toThrow(
      /transfer-encoding/,
    );
    await expect(new RawHttpConnection('127.0.0.1', port).post('/drop', '')).rejects.toThrow(
      /closed/,
    );
  });
});

describe('the bench page check', () => {
  const op = (seq: number) => `{"server_sequence":${seq},"op_id":"o${seq}"}`;
  const page = (head: number, last: number, more: boolean, seqs: number[]) =>
    Buffer.from(
      `{"server_sequence":${head},"page_last_sequence":${last},"has_more":${more},"ops":[${seqs.map(op).join(',')}]}\n`,
    );

  it('counts the ops and reads the paging fields', () => {
    expect(checkPage(page(9, 5, true, [4, 5]), 3, 2)).toEqual({ ops: 2, last: 5, hasMore: true });
    expect(checkPage(page(9, 7, false, []), 7, 2)).toEqual({ ops: 0, last: 7, hasMore: false });
  });

  it('refuses pages the desktop would refuse', () => {
    expect(() => checkPage(page(9, 4, true, [4, 5]), 3, 2)).toThrow(/page_last_sequence/);
    expect(() => checkPage(page(9, 3, true, []), 3, 2)).toThrow(/progress/);
    expect(() => checkPage(page(9, 6, false, [4, 5, 6]), 3, 2)).toThrow(/ops in a page/);
    expect(() => checkPage(page(9, 5, false, [4, 5]).subarray(0, -1), 3, 2)).toThrow(/newline/);
    expect(() => checkPage(Buffer.from('{"error":"x"}\n'), 3, 2)).toThrow(/paging fields/);
  });
});
