import { writeFileSync } from 'node:fs';
import { request, type ClientRequest } from 'node:http';
import { join } from 'node:path';
import argon2 from 'argon2';
import { stderrProgress } from '../../src/cli/progress.js';
import type { Runtime } from '../../src/runtime.js';
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

/** Users own this many vaults each: the per-user cap on open streams is 32. */
const VAULTS_PER_USER = 20;

/**
 * `count` devices, each paired to a vault of its own (`<prefix>-vault-<i>`), under users
 * `<prefix><k>`; answers their tokens. The runtime should use seedHasher.
 */
export async function pairOneVaultEach(
  runtime: Runtime,
  count: number,
  prefix: string,
  password: string,
): Promise<string[]> {
  const tokens: string[] = [];
  const progress = stderrProgress(`pairing ${count} devices, one vault each`);
  for (let i = 0; i < count; i++) {
    const user = `${prefix}${Math.floor(i / VAULTS_PER_USER)}`;
    if (i % VAULTS_PER_USER === 0) {
      await runtime.users.register(
        { username: user, email: `${user}@example.test`, password, confirmed: true },
        'operator',
        { actor: 'bench' },
      );
    }
    const vaultId = `${prefix}-vault-${i}`;
    const paired = await runtime.devices.pair(
      { login: user, password, deviceName: vaultId, clientVersion: 'bench', vaultId, via: 'pair' },
      { actor: 'bench' },
    );
    tokens.push(paired.token);
    progress(i + 1, count);
  }
  return tokens;
}

/**
 * config.yml caps that let `streams` event streams and the bench's other connections in:
 * every connection of a bench comes from one loopback client.
 */
export function allowStreams(dataDir: string, streams: number): void {
  writeFileSync(
    join(dataDir, 'config.yml'),
    [
      'limits:',
      `  max_live_connections: ${streams + 100}`,
      `  max_connections: ${streams + 200}`,
      `  max_connections_per_client: ${streams + 200}`,
      '',
    ].join('\n'),
  );
}
