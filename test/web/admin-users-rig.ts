import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { TestServer } from '../helpers/sync-app.js';
import { hiddenFields, WebClient } from './browser-client.js';

// What the user-management tests look at: the events an action appended, the users row,
// whether a password opens the account, and where a generated password must never be.

export const eventsAfter = (server: TestServer, seq: number) =>
  (
    server.runtime.db
      .prepare('SELECT type, stream, meta FROM events WHERE seq > ? ORDER BY seq')
      .all(seq) as { type: string; stream: string; meta: string }[]
  ).map((e) => ({
    type: e.type,
    stream: e.stream,
    actor: (JSON.parse(e.meta) as { actor: string }).actor,
  }));

export const userRow = (server: TestServer, id: string) =>
  server.runtime.db
    .prepare('SELECT username, email, confirmed, blocked FROM users WHERE id = ?')
    .get(id) as { username: string; email: string; confirmed: number; blocked: number } | undefined;

export const userIdOf = (server: TestServer, username: string) =>
  (
    server.runtime.db.prepare('SELECT id FROM users WHERE username = ?').get(username) as
      { id: string } | undefined
  )?.id;

/** A user's browser signing in: the status of the sign-in answer (303 when it worked). */
export async function userSignIn(server: TestServer, login: string, password: string) {
  const client = new WebClient(server.app, { 'accept-language': 'en' });
  const res = await client.submit('/login', '/login', { username: login, password });
  return { status: res.statusCode, client };
}

/** The password a one-time page shows, '' when it shows none. */
export const shownPassword = (html: string) =>
  /<p class="one-time-secret"><code>([^<]+)<\/code><\/p>/.exec(html)?.[1] ?? '';

/** Whether `text` is in one of the database's files, read as bytes (main file, WAL, ...). */
export function inDatabaseFiles(server: TestServer, text: string): boolean {
  const needle = Buffer.from(text);
  const files = readdirSync(server.dir).filter((f) => f.startsWith('server.db'));
  expect(files).toContain('server.db');
  return files.some((file) => readFileSync(join(server.dir, file)).includes(needle));
}

/** The secret is in no event (data or meta) and in none of the database's files. */
export function expectNowhereInClear(server: TestServer, secret: string) {
  expect(secret.length).toBeGreaterThanOrEqual(16);
  const hits = server.runtime.db
    .prepare(`SELECT COUNT(*) AS n FROM events WHERE instr(data, ?) > 0 OR instr(meta, ?) > 0`)
    .get(secret, secret) as { n: number };
  expect(hits.n).toBe(0);
  expect(inDatabaseFiles(server, secret)).toBe(false);
}

/** A JSON call of the admin API from a signed-in console, with its CSRF header. */
export function adminApiCall(
  server: TestServer,
  client: WebClient,
  method: 'GET' | 'POST' | 'DELETE' | 'PUT',
  url: string,
  json?: unknown,
  options: { csrf?: boolean } = {},
) {
  const csrf =
    options.csrf === false ? {} : { 'x-csrf-token': client.cookies.get('csrf_token') ?? '' };
  return server.app.inject({
    method,
    url,
    headers: { cookie: client.cookieHeader(), ...csrf },
    ...(json === undefined ? {} : { payload: json as object }),
  });
}

/** The link of a user's row on a users list page: their page's URL. */
export async function userPageOf(client: WebClient, listPage: string, username: string) {
  const html = (await client.get(listPage)).body;
  const href = new RegExp(
    `<th scope="row" class="user-name"><a href="(/admin/user/\\?id=[^"]+)">${username}</a></th>`,
  ).exec(html)?.[1];
  expect(href, `row of ${username} on ${listPage}`).toBeDefined();
  return href!;
}

/**
 * The hidden fields of a user's forms (csrf_token, id, back), reached as an admin does:
 * from their row on a users list page to their page. `back` is that page.
 */
export async function userFields(client: WebClient, listPage: string, username: string) {
  const page = await userPageOf(client, listPage, username);
  const res = await client.get(page);
  expect(res.statusCode, page).toBe(200);
  const fields = hiddenFields(res.body);
  expect(fields.back).toBe(page);
  return fields;
}
