import { afterEach, expect } from 'vitest';
import { createPasswordHasher } from '../../src/security/passwords.js';
import { startTestServer, type TestServer, type TestServerOptions } from '../helpers/sync-app.js';
import { WebClient } from './browser-client.js';

export const ADMIN = 'root';
export const ADMIN_PASSWORD = 'admin password on file';

let adminHash: Promise<string> | undefined;
let servers: TestServer[] = [];

afterEach(async () => {
  const closing = servers;
  servers = [];
  for (const s of closing) await s.close();
});

/** A server whose config.yml names one admin (argon2id, as the CLI writes it). */
export async function startAdminServer(options: TestServerOptions = {}) {
  adminHash ??= createPasswordHasher().hash(ADMIN_PASSWORD);
  const server = await startTestServer({
    ...options,
    settings: { admin: [{ username: ADMIN, password_hash: await adminHash }], ...options.settings },
  });
  servers.push(server);
  return server;
}

export const logHead = (server: TestServer) =>
  (server.runtime.db.prepare('SELECT MAX(seq) AS seq FROM events').get() as { seq: number }).seq;

export async function adminLogin(client: WebClient, username = ADMIN, password = ADMIN_PASSWORD) {
  return client.submit('/admin/login', '/admin/login', { username, password });
}

/** A browser signed in to the console. */
export async function adminBrowser(server: TestServer, headers: Record<string, string> = {}) {
  const client = new WebClient(server.app, { 'accept-language': 'en', ...headers });
  const res = await adminLogin(client);
  expect(res.statusCode, res.body).toBe(303);
  expect(res.headers.location).toBe('/admin/dashboard');
  return client;
}
