import { request, type ClientRequest } from 'node:http';
import argon2 from 'argon2';
import type { PasswordHasher } from '../../src/security/passwords.js';

// What the live and sync sections share to hold event streams open against the built server.

/**
 * Seeding only: pairing a thousand devices through the server's argon2 profile would take
 * half a minute and measure nothing. The server itself runs with its own hasher; device
 * tokens are not password hashes.
 */
export const seedHasher: PasswordHasher = {
  hash: (password) =>
    argon2.hash(password, { type: argon2.argon2id, memoryCost: 1024, timeCost: 1, parallelism: 1 }),
  verify: async (stored, password) =>
    stored !== undefined && (await argon2.verify(stored, password)),
};

/** An event stream on a socket of its own; `onHead` sees each head event's seq. */
export function openStream(port: number, token: string, onHead: (seq: number) => void) {
  return new Promise<ClientRequest>((resolve, reject) => {
    const req = request({
      host: '127.0.0.1',
      port,
      path: '/api/v1/sync/events',
      agent: false,
      headers: { authorization: `Bearer ${token}` },
    });
    req.on('error', reject);
    req.on('response', (res) => {
      if (res.statusCode !== 200) {
        reject(new Error(`event stream answered ${res.statusCode}`));
        return;
      }
      res.setEncoding('utf8');
      let buffered = '';
      res.on('data', (chunk: string) => {
        buffered += chunk;
        for (;;) {
          const end = buffered.indexOf('\n\n');
          if (end < 0) break;
          const message = buffered.slice(0, end);
          buffered = buffered.slice(end + 2);
          const id = /^id: (\d+)$/m.exec(message)?.[1];
          if (id !== undefined) onHead(Number(id));
        }
        resolve(req);
      });
    });
    req.end();
  });
}
