import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testHasher } from '../helpers/runtime.js';
import {
  addUser,
  pair,
  startTestServer,
  textOp,
  type Device,
  type TestServer,
} from '../helpers/sync-app.js';
import { sendOversized, type RawOutcome } from './oversized-client.js';

const KiB = 1024;
const MiB = 1024 * KiB;

// Lowered so that an 80 MB body is 40 times over the push cap without a heavy test.
const LIMITS = { max_push_body: 2 * MiB, max_json_body: 64 * KiB };
const PUSH_BYTES = 80 * 1000 * 1000;
// Each case: ROUNDS rounds of PARALLEL clients at once, while the server is kept busy.
const ROUNDS = 5;
const PARALLEL = 4;

let server: TestServer;
let port: number;
let device: Device;
let busyDevice: Device;

beforeAll(async () => {
  server = await startTestServer({ limits: LIMITS, hasher: testHasher });
  await addUser(server, 'olga');
  device = await pair(server, 'olga', 'vault-1');
  busyDevice = await pair(server, 'olga', 'vault-1', 'desktop');
  await server.app.listen({ host: '127.0.0.1', port: 0 });
  port = (server.app.server.address() as AddressInfo).port;
});

afterAll(async () => {
  await server?.close();
});

const base = () => `http://127.0.0.1:${port}`;

/**
 * Valid pushes and pulls over other connections until `stop` settles: the answers to the
 * oversized bodies must get through while the server commits and serves pages.
 */
async function keepBusy(stop: Promise<unknown>) {
  let done = false;
  void stop.finally(() => (done = true));
  let n = 0;
  const statuses: number[] = [];
  const worker = async (w: number) => {
    while (!done && n < 2_000) {
      n += 1;
      const push = await fetch(`${base()}/api/v1/sync/push`, {
        method: 'POST',
        headers: { authorization: `Bearer ${busyDevice.token}` },
        body: JSON.stringify({
          device_id: busyDevice.deviceId,
          ops: Array.from({ length: 20 }, (_, i) =>
            textOp(`busy-${w}-${n}-${i}`, `notes/${w}-${i}.md`, 'x'.repeat(2 * KiB)),
          ),
        }),
      });
      statuses.push(push.status);
      await push.arrayBuffer();
      const pull = await fetch(`${base()}/api/v1/sync/pull`, {
        method: 'POST',
        headers: { authorization: `Bearer ${busyDevice.token}` },
        body: JSON.stringify({ since_sequence: 0, page_limit: 500 }),
      });
      statuses.push(pull.status);
      await pull.arrayBuffer();
    }
  };
  await Promise.all([0, 1, 2].map(worker));
  return statuses;
}

/** Runs `attempt` ROUNDS × PARALLEL times under load; every outcome and the load's statuses. */
async function underLoad(attempt: () => Promise<RawOutcome>) {
  let release!: () => void;
  const stop = new Promise<void>((r) => (release = r));
  const load = keepBusy(stop);
  const outcomes: RawOutcome[] = [];
  try {
    for (let round = 0; round < ROUNDS; round += 1) {
      outcomes.push(...(await Promise.all(Array.from({ length: PARALLEL }, attempt))));
    }
  } finally {
    release();
  }
  return { outcomes, loadStatuses: await load };
}

/** What the client must have read every time: no socket error, and the whole answer. */
const summary = (o: RawOutcome) => ({
  sentAll: o.sentAll,
  error: o.error,
  status: o.status,
  connection: o.headers.connection,
  body: o.body ? (JSON.parse(o.body) as unknown) : undefined,
});

describe.each([
  ['with a Content-Length', false],
  ['chunked, without a Content-Length', true],
])('an oversized body sent whole before reading (%s)', (_name, chunked) => {
  it('gets 413 too_many_operations on push, every time, while the server is busy', async () => {
    const { outcomes, loadStatuses } = await underLoad(() =>
      sendOversized({
        port,
        path: '/api/v1/sync/push',
        token: device.token,
        bodyBytes: PUSH_BYTES,
        chunked,
      }),
    );
    expect(outcomes).toHaveLength(ROUNDS * PARALLEL);
    for (const outcome of outcomes) {
      expect(summary(outcome)).toEqual({
        sentAll: true,
        error: undefined,
        status: 413,
        connection: 'close',
        body: { error: 'request body too large', code: 'too_many_operations' },
      });
    }
    // The load really ran beside the oversized bodies, and was served.
    expect(loadStatuses.length).toBeGreaterThan(0);
    expect(new Set(loadStatuses)).toEqual(new Set([200]));
  }, 240_000);

  it('gets 413 request_too_large on another JSON route (pull), every time', async () => {
    const { outcomes } = await underLoad(() =>
      sendOversized({
        port,
        path: '/api/v1/sync/pull',
        token: device.token,
        bodyBytes: 8 * MiB,
        chunked,
      }),
    );
    for (const outcome of outcomes) {
      expect(summary(outcome)).toEqual({
        sentAll: true,
        error: undefined,
        status: 413,
        connection: 'close',
        body: { error: 'request body too large', code: 'request_too_large' },
      });
    }
  }, 120_000);

  it('gets its 401 when refused before the body is read', async () => {
    const outcome = await sendOversized({
      port,
      path: '/api/v1/sync/push',
      token: 'not-a-token',
      bodyBytes: PUSH_BYTES,
      chunked,
    });
    expect(summary(outcome)).toMatchObject({
      sentAll: true,
      error: undefined,
      status: 401,
      connection: 'close',
    });
  }, 60_000);
});

describe('a Content-Length over the limit', () => {
  it('is answered before any body byte is sent, then the body is drained without a reset', async () => {
    const outcomes = await Promise.all(
      Array.from({ length: PARALLEL }, () =>
        sendOversized({
          port,
          path: '/api/v1/sync/push',
          token: device.token,
          bodyBytes: PUSH_BYTES,
          chunked: false,
          answerFirst: true,
        }),
      ),
    );
    for (const outcome of outcomes) {
      expect(outcome.answeredBeforeBody).toBe(true);
      expect(summary(outcome)).toEqual({
        sentAll: true,
        error: undefined,
        status: 413,
        connection: 'close',
        body: { error: 'request body too large', code: 'too_many_operations' },
      });
    }
  }, 120_000);
});

describe('after the oversized bodies', () => {
  it('the server still answers, and no oversized op was stored', async () => {
    const health = await fetch(`${base()}/api/v1/health`);
    expect(health.status).toBe(200);
    const pulled = await fetch(`${base()}/api/v1/sync/pull`, {
      method: 'POST',
      headers: { authorization: `Bearer ${device.token}` },
      body: JSON.stringify({ since_sequence: 0, page_limit: 1000 }),
    });
    const page = (await pulled.json()) as { ops: { device_id: string }[] };
    expect(page.ops.every((op) => op.device_id === busyDevice.deviceId)).toBe(true);
  });
});
