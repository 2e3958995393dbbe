import { request as httpRequest, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigSchema } from '../../src/config.js';
import {
  addUser,
  call,
  pair,
  pushAccepted,
  startTestServer,
  textOp,
  type Device,
  type PullPage,
  type TestServer,
  type TestServerOptions,
} from '../helpers/sync-app.js';

// CONTRACT.md §19 (issue 10): a device's event stream says when its vault's head moves, and
// a pull with wait_ms waits for a change instead of answering empty. Over a real listener:
// streams are long-lived HTTP answers that fastify.inject cannot hold open.

let servers: TestServer[] = [];
let streams: EventStream[] = [];
afterEach(async () => {
  for (const s of streams) s.close();
  for (const server of servers) await server.close();
  servers = [];
  streams = [];
});

async function listening(options: TestServerOptions = {}) {
  const server = await startTestServer(options);
  servers.push(server);
  await server.app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = server.app.server.address() as AddressInfo;
  return { server, port };
}

interface EventStream {
  readonly status: number;
  readonly headers: IncomingMessage['headers'];
  /** Everything received so far. */
  text(): string;
  /** Resolves once the received text matches, rejects after `ms`. */
  until(pattern: RegExp, ms?: number): Promise<string>;
  /** Resolves when the server ends the answer. */
  ended: Promise<void>;
  close(): void;
}

function openStream(
  port: number,
  device: Device,
  headers: Record<string, string> = {},
): Promise<EventStream> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({
      host: '127.0.0.1',
      port,
      path: '/api/v1/sync/events',
      headers: { authorization: `Bearer ${device.token}`, ...headers },
    });
    req.on('error', reject);
    req.on('response', (res) => {
      let text = '';
      const waiters = new Set<() => void>();
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
        for (const w of [...waiters]) w();
      });
      const ended = new Promise<void>((done) => res.on('close', () => done()));
      resolve({
        status: res.statusCode ?? 0,
        headers: res.headers,
        text: () => text,
        until(pattern: RegExp, ms = 5_000) {
          return new Promise((found, fail) => {
            const check = () => {
              if (!pattern.test(text)) return;
              waiters.delete(check);
              clearTimeout(timer);
              found(text);
            };
            const timer = setTimeout(() => {
              waiters.delete(check);
              fail(new Error(`no ${pattern} in ${JSON.stringify(text)}`));
            }, ms);
            waiters.add(check);
            check();
          });
        },
        ended,
        close: () => req.destroy(),
      });
    });
    req.end();
  }).then((s) => {
    streams.push(s as EventStream);
    return s as EventStream;
  });
}

/** A pull over the real listener, so that it can wait while other requests are served. */
function pullOver(port: number, device: Device, body: object) {
  return fetch(`http://127.0.0.1:${port}/api/v1/sync/pull`, {
    method: 'POST',
    headers: { authorization: `Bearer ${device.token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

async function aliceWithTwoDevices(server: TestServer) {
  await addUser(server, 'alice');
  const writer = await pair(server, 'alice', 'notes');
  const reader = await pair(server, 'alice', 'notes');
  return { writer, reader };
}

const headsIn = (text: string) =>
  [...text.matchAll(/event: head\nid: (\d+)\ndata: (.*)\n\n/g)].map((m) => ({
    id: Number(m[1]),
    data: JSON.parse(m[2]!) as { server_sequence: number },
  }));

describe('the event stream', () => {
  it("tells a listening device of another device's push, with the new head only", async () => {
    const { server, port } = await listening();
    const { writer, reader } = await aliceWithTwoDevices(server);
    const stream = await openStream(port, reader);
    expect(stream.status).toBe(200);
    expect(stream.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(stream.headers['cache-control']).toBe('no-store');
    await stream.until(/: connected\n\n/);
    expect(headsIn(stream.text())).toEqual([]);

    await pushAccepted(server, writer, [textOp('op-1', 'a.md', 'secret words')]);
    await stream.until(/event: head/);
    const head = headOf(server, reader);
    expect(head).toBeGreaterThan(0);
    expect(headsIn(stream.text())).toEqual([{ id: head, data: { server_sequence: head } }]);
    // Invalidation only: never the op itself.
    expect(stream.text()).not.toContain('secret words');
  });

  it('coalesces a push of many ops into one event with the newest seq', async () => {
    const { server, port } = await listening();
    const { writer, reader } = await aliceWithTwoDevices(server);
    const stream = await openStream(port, reader);
    await stream.until(/: connected/);
    const ops = Array.from({ length: 50 }, (_, i) => textOp(`op-${i}`, `n${i}.md`, `c${i}`));
    await pushAccepted(server, writer, ops);
    await stream.until(/event: head/);
    // Give a second event, if one were coming, the time to arrive.
    await pushAccepted(server, writer, [textOp('later', 'later.md', 'x')]);
    await stream.until(/event: head[\s\S]*event: head/);
    const events = headsIn(stream.text());
    expect(events).toHaveLength(2);
    expect(events[1]!.id).toBe(headOf(server, reader));
    expect(events[0]!.id).toBe(events[1]!.id - 1);
  });

  it('does not tell a device about another vault or another user', async () => {
    const { server, port } = await listening();
    const { reader } = await aliceWithTwoDevices(server);
    const otherVault = await pair(server, 'alice', 'work');
    await addUser(server, 'bob');
    const bob = await pair(server, 'bob', 'notes');
    const stream = await openStream(port, reader);
    await stream.until(/: connected/);
    await pushAccepted(server, otherVault, [textOp('w-1', 'w.md', 'w')]);
    await pushAccepted(server, bob, [textOp('b-1', 'b.md', 'b')]);
    const own = await pair(server, 'alice', 'notes');
    await pushAccepted(server, own, [textOp('n-1', 'n.md', 'n')]);
    await stream.until(/event: head/);
    expect(headsIn(stream.text()).map((e) => e.id)).toEqual([headOf(server, reader)]);
  });

  it('answers a Last-Event-ID behind the head with the head at once, and one at the head with nothing', async () => {
    const { server, port } = await listening();
    const { writer, reader } = await aliceWithTwoDevices(server);
    await pushAccepted(server, writer, [textOp('op-1', 'a.md', 'a'), textOp('op-2', 'b.md', 'b')]);
    const head = headOf(server, reader);
    const behind = await openStream(port, reader, { 'last-event-id': String(head - 1) });
    await behind.until(/event: head/);
    expect(headsIn(behind.text())).toEqual([{ id: head, data: { server_sequence: head } }]);

    const current = await openStream(port, reader, { 'last-event-id': String(head) });
    await current.until(/: connected/);
    expect(headsIn(current.text())).toEqual([]);
  });

  it('sends a heartbeat comment while nothing happens', async () => {
    const { server, port } = await listening({ settings: { timeouts: heartbeatEvery(100) } });
    const { reader } = await aliceWithTwoDevices(server);
    const stream = await openStream(port, reader);
    await stream.until(/: heartbeat\n\n[\s\S]*: heartbeat\n\n/);
  });

  it('refuses without a token, a revoked device and a blocked user, in the contract shape', async () => {
    const { server, port } = await listening();
    const { reader } = await aliceWithTwoDevices(server);
    const anonymous = await fetch(`http://127.0.0.1:${port}/api/v1/sync/events`);
    expect(anonymous.status).toBe(401);
    expect(((await anonymous.json()) as { code: string }).code).toBeTruthy();

    server.runtime.users.setBlocked(reader.userId, true, { actor: 'test' });
    const blocked = await fetch(`http://127.0.0.1:${port}/api/v1/sync/events`, {
      headers: { authorization: `Bearer ${reader.token}` },
    });
    expect(blocked.status).toBe(403);
    server.runtime.users.setBlocked(reader.userId, false, { actor: 'test' });

    await call(server, reader, { method: 'POST', url: '/api/client/revoke-current' });
    const revoked = await fetch(`http://127.0.0.1:${port}/api/v1/sync/events`, {
      headers: { authorization: `Bearer ${reader.token}` },
    });
    expect(revoked.status).toBe(401);
  });

  it('is closed when its device is revoked or its user blocked', async () => {
    const { server, port } = await listening();
    const { writer, reader } = await aliceWithTwoDevices(server);
    const readerStream = await openStream(port, reader);
    const writerStream = await openStream(port, writer);
    await readerStream.until(/: connected/);
    await writerStream.until(/: connected/);

    await call(server, reader, { method: 'POST', url: '/api/client/revoke-current' });
    await withinSecond(readerStream.ended);
    expect(writerStream.text()).not.toContain('event: head');

    server.runtime.users.setBlocked(writer.userId, true, { actor: 'test' });
    await withinSecond(writerStream.ended);
  });

  it('answers 503 too_many_streams past the per-device, per-user and total caps', async () => {
    const { server, port } = await listening({
      limits: { max_live_per_device: 2, max_live_per_user: 3, max_live_connections: 4 },
    });
    const { writer, reader } = await aliceWithTwoDevices(server);
    for (let i = 0; i < 2; i += 1) expect((await openStream(port, reader)).status).toBe(200);
    const perDevice = await openStream(port, reader);
    expect(perDevice.status).toBe(503);
    expect(perDevice.headers['retry-after']).toBeDefined();
    await perDevice.ended;
    expect(JSON.parse(perDevice.text())).toMatchObject({ code: 'too_many_streams' });

    expect((await openStream(port, writer)).status).toBe(200);
    expect((await openStream(port, writer)).status).toBe(503); // the user's third is their cap

    await addUser(server, 'bob');
    const bob = await pair(server, 'bob', 'notes');
    expect((await openStream(port, bob)).status).toBe(200);
    expect((await openStream(port, bob)).status).toBe(503); // the total of four

    // A closed stream frees its place.
    streams[0]!.close();
    await streams[0]!.ended;
    await expect.poll(async () => (await openStream(port, reader)).status).toBe(200);
  });
});

describe('a pull with wait_ms', () => {
  it('answers as soon as another device pushes, with the new ops', async () => {
    const { server, port } = await listening();
    const { writer, reader } = await aliceWithTwoDevices(server);
    await pushAccepted(server, writer, [textOp('op-1', 'a.md', 'a')]);
    const first = await pullOver(port, reader, { since_sequence: 0 });
    const since = ((await first.json()) as PullPage).server_sequence;

    const waiting = pullOver(port, reader, { since_sequence: since, wait_ms: 30_000 });
    // Still waiting after other requests went through.
    const settled = await Promise.race([waiting.then(() => 'answered'), pause(300)]);
    expect(settled).toBe('waited');
    await pushAccepted(server, writer, [textOp('op-2', 'b.md', 'b')]);
    const res = await withinSecond(waiting);
    expect(res.status).toBe(200);
    const page = (await res.json()) as PullPage;
    expect(page.ops.map((op) => op.op_id)).toEqual(['op-2']);
    expect(page.server_sequence).toBe(headOf(server, reader));
  });

  it('answers the usual empty page when wait_ms runs out, and at once when ops are there', async () => {
    const { server, port } = await listening();
    const { writer, reader } = await aliceWithTwoDevices(server);
    await pushAccepted(server, writer, [textOp('op-1', 'a.md', 'a')]);
    const head = headOf(server, reader);
    const plain = await (await pullOver(port, reader, { since_sequence: head })).text();

    const t0 = performance.now();
    const res = await pullOver(port, reader, { since_sequence: head, wait_ms: 250 });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(240);
    expect(await res.text()).toBe(plain);

    const ready = await pullOver(port, reader, { since_sequence: 0, wait_ms: 30_000 });
    expect(((await withinSecond(ready.json())) as PullPage).ops).toHaveLength(1);
  });

  it('refuses a wait_ms below 0 or above 30000 with 400 invalid_request', async () => {
    const { server } = await listening();
    const { reader } = await aliceWithTwoDevices(server);
    for (const wait_ms of [-1, 30_001]) {
      const res = await call(server, reader, {
        method: 'POST',
        url: '/api/v1/sync/pull',
        payload: { since_sequence: 0, wait_ms },
      });
      expect(res.statusCode).toBe(400);
      expect(res.json()).toMatchObject({ code: 'invalid_request' });
    }
  });

  it('ends its wait when the server shuts down, and open streams end too', async () => {
    const { server, port } = await listening();
    const { writer, reader } = await aliceWithTwoDevices(server);
    await pushAccepted(server, writer, [textOp('op-1', 'a.md', 'a')]);
    const head = headOf(server, reader);
    const stream = await openStream(port, writer);
    await stream.until(/: connected/);
    const waiting = pullOver(port, reader, { since_sequence: head, wait_ms: 30_000 });
    await pause(200);
    const closing = server.app.close();
    const res = await withinSecond(waiting);
    expect(res.status).toBe(200);
    expect(((await res.json()) as PullPage).ops).toEqual([]);
    await withinSecond(stream.ended);
    // What serve does once nothing is in flight: the clients' idle keep-alive sockets go.
    server.app.server.closeAllConnections();
    await withinSecond(closing);
  });
});

const heartbeatEvery = (ms: number) => ({
  ...ConfigSchema.parse({}).timeouts,
  live_heartbeat_ms: ms,
});

/** The device's vault head; every device here syncs the vault 'notes'. */
const headOf = (server: TestServer, device: Device) =>
  server.runtime.sync.head({ userId: device.userId, vaultId: 'notes' });

const pause = (ms: number) => new Promise<'waited'>((r) => setTimeout(() => r('waited'), ms));

/** Fails unless `promise` settles within a second (revocation and shutdown promise that). */
function withinSecond<T>(promise: Promise<T>): Promise<T> {
  return Promise.race([
    promise,
    new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error('not within a second')), 1_000),
    ),
  ]);
}
