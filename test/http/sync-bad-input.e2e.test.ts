import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addUser,
  call,
  nextPeer,
  pair,
  PASSWORD,
  startTestServer,
  textOp,
  type Device,
  type TestServer,
  type WireOp,
} from '../helpers/sync-app.js';

// CONTRACT.md §2 and §4.6–4.7: bad input gets its exact status and code, and changes nothing.

const LIMITS = {
  max_payload_json: 1024,
  max_push_operations: 5,
  max_push_body: 16 * 1024,
  max_json_body: 4096,
};

let server: TestServer;
let device: Device;
beforeAll(async () => {
  server = await startTestServer({ databaseFile: ':memory:', limits: LIMITS });
  await addUser(server, 'alice');
  device = await pair(server, 'alice', 'vault-1');
  // One stored op, so that "nothing stored" is checked against a vault that exists.
  await send('/api/v1/sync/push', { ops: [textOp('seed', 'seed.md', 'seed')] });
});
afterAll(async () => server.close());

const storedOps = () =>
  (server.runtime.db.prepare('SELECT count(*) AS n FROM vault_ops').get() as { n: number }).n;

function send(
  url: string,
  payload: unknown,
  headers: Record<string, string> = {},
  who: Device | undefined = device,
) {
  return call(server, who, {
    method: 'POST',
    url,
    headers: { 'content-type': 'application/json', ...headers },
    payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
  });
}

/** Sends a bad request and checks its status and code, and that the log did not move. */
async function refused(url: string, payload: unknown, status: number, code: string, who?: Device) {
  const head = server.runtime.store.head();
  const ops = storedOps();
  const res = await send(url, payload, {}, who ?? device);
  expect([res.statusCode, res.json()], JSON.stringify(payload).slice(0, 200)).toEqual([
    status,
    { error: expect.any(String), code },
  ]);
  expect(server.runtime.store.head()).toBe(head);
  expect(storedOps()).toBe(ops);
}

const PUSH = '/api/v1/sync/push';
const PULL = '/api/v1/sync/pull';
const good = (extra: Partial<Record<keyof WireOp, unknown>> = {}) => ({
  ...textOp('op-x', 'x.md', 'x'),
  ...extra,
});
const pushOf = (...ops: unknown[]) => ({ device_id: device.deviceId, ops });

describe('push bodies that are not the right JSON', () => {
  it.each([
    ['malformed', 'invalid_json', '{"ops": ['],
    ['empty', 'invalid_json', ''],
    ['blank', 'invalid_json', '  \n '],
    ['trailing value', 'trailing_json', '{"ops": []} {}'],
    ['trailing garbage', 'trailing_json', '{"ops": []}x'],
    ['an array', 'invalid_json', '[]'],
    ['a string', 'invalid_json', '"ops"'],
    ['a number', 'invalid_json', '42'],
    ['null', 'invalid_json', 'null'],
    ['ops as object', 'invalid_json', '{"ops": {}}'],
    ['ops as string', 'invalid_json', '{"ops": "x"}'],
    ['an op as number', 'invalid_json', '{"ops": [1]}'],
    ['an op as null', 'invalid_json', '{"ops": [null]}'],
    ['an op as array', 'invalid_json', '{"ops": [[]]}'],
    ['__proto__ at the top', 'invalid_json', '{"__proto__": {"polluted": 1}, "ops": []}'],
    [
      '__proto__ in an op',
      'invalid_json',
      `{"ops": [{"__proto__": {"op_id": "p"}, ${JSON.stringify(good()).slice(1)}]}`,
    ],
    [
      'constructor.prototype',
      'invalid_json',
      '{"ops": [], "constructor": {"prototype": {"polluted": 1}}}',
    ],
  ])('%s → 400 %s', async (_name, code, body) => {
    await refused(PUSH, body, 400, code);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it.each([
    ['op_id as number', { op_id: 7 }],
    ['entity_type as object', { entity_type: {} }],
    ['entity_id as array', { entity_id: ['x'] }],
    ['op_type as boolean', { op_type: true }],
    ['payload_json as object', { payload_json: { path: 'x' } }],
    ['created_at as number', { created_at: 1 }],
    ['client_sequence as string', { client_sequence: '1' }],
    ['last_seen_server_seq as 1.5', { last_seen_server_seq: 1.5 }],
    ['client_sequence beyond 2^53', { client_sequence: 2 ** 60 }],
  ])('an op with %s → 400 invalid_json', async (_name, extra) => {
    await refused(PUSH, pushOf(good(extra)), 400, 'invalid_json');
  });

  it.each([
    ['device_id as number', { device_id: 5, ops: [] }],
    ['idempotency_key as object', { idempotency_key: {}, ops: [] }],
  ])('%s → 400 invalid_json', async (_name, body) => {
    await refused(PUSH, body, 400, 'invalid_json');
  });
});

describe('push ops that break the rules', () => {
  const fields = ['op_id', 'entity_type', 'entity_id', 'op_type'] as const;

  it.each(fields)('missing or blank %s → 400 invalid_operation', async (field) => {
    for (const value of [undefined, null, '', '   ', '\t\n']) {
      await refused(PUSH, pushOf(good({ [field]: value })), 400, 'invalid_operation');
    }
  });

  it.each([
    ['op_id', 128],
    ['entity_type', 64],
    ['entity_id', 4096],
    ['op_type', 64],
  ] as const)('%s over %i bytes → 400 field_too_long (counted in bytes)', async (field, max) => {
    await refused(PUSH, pushOf(good({ [field]: 'a'.repeat(max + 1) })), 400, 'field_too_long');
    // Two-byte characters: fewer characters than the limit, more bytes.
    await refused(
      PUSH,
      pushOf(good({ [field]: `${'я'.repeat(max / 2)}a` })),
      400,
      'field_too_long',
    );
    const res = await send(
      PUSH,
      pushOf(good({ op_id: `at-limit-${field}`, [field]: 'b'.repeat(max) })),
    );
    expect(res.statusCode, res.body).toBe(200);
  });

  it.each(['device_id', 'idempotency_key'])(
    '%s over 128 bytes → 400 field_too_long',
    async (field) => {
      await refused(PUSH, { ...pushOf(good()), [field]: 'k'.repeat(129) }, 400, 'field_too_long');
    },
  );

  it('negative sequences → 400 invalid_operation', async () => {
    await refused(PUSH, pushOf(good({ client_sequence: -1 })), 400, 'invalid_operation');
    await refused(PUSH, pushOf(good({ last_seen_server_seq: -5 })), 400, 'invalid_operation');
  });

  it('a payload_json over max_payload_json → 413 payload_too_large; at the limit it is taken', async () => {
    const json = (bytes: number) => JSON.stringify({ t: 'x'.repeat(bytes - 8) });
    expect(json(1024)).toHaveLength(1024);
    await refused(PUSH, pushOf(good({ payload_json: json(1025) })), 413, 'payload_too_large');
    await refused(
      PUSH,
      pushOf(good({ payload_json: JSON.stringify({ t: 'я'.repeat(600) }) })),
      413,
      'payload_too_large',
    );
    const res = await send(
      PUSH,
      pushOf(good({ op_id: 'payload-at-limit', payload_json: json(1024) })),
    );
    expect(res.statusCode, res.body).toBe(200);
  });

  it.each(['{', 'undefined', "{'a': 1}", '{"a": 1} 2', 'NaN', '[1,]'])(
    'payload_json %j → 400 invalid_payload',
    async (payload) => {
      await refused(PUSH, pushOf(good({ payload_json: payload })), 400, 'invalid_payload');
    },
  );

  it('more than max_push_operations ops → 413 too_many_operations', async () => {
    const ops = Array.from({ length: 6 }, (_, i) => good({ op_id: `many-${i}` }));
    await refused(PUSH, pushOf(...ops), 413, 'too_many_operations');
  });

  it('a push body over max_push_body → 413 too_many_operations, so the desktop halves its batch', async () => {
    const ops = Array.from({ length: 5 }, (_, i) =>
      good({ op_id: `big-${i}`, entity_id: 'e'.repeat(4000) }),
    );
    expect(JSON.stringify(pushOf(...ops)).length).toBeGreaterThan(16 * 1024);
    await refused(PUSH, pushOf(...ops), 413, 'too_many_operations');
  });

  it('one bad op rejects the whole batch', async () => {
    const ops = [
      good({ op_id: 'fine-1' }),
      good({ op_id: 'fine-2' }),
      good({ op_id: 'bad', op_type: '' }),
    ];
    await refused(PUSH, pushOf(...ops), 400, 'invalid_operation');
  });
});

describe('blob references in file ops (CONTRACT.md §5.6)', () => {
  const sha = 'a'.repeat(64);
  const fileOp = (payload: unknown) => good({ payload_json: JSON.stringify(payload) });

  it('inline dataBase64 → 400 inline_binary_forbidden', async () => {
    await refused(
      PUSH,
      pushOf(fileOp({ path: 'x.bin', dataBase64: 'AAAA' })),
      400,
      'inline_binary_forbidden',
    );
    await refused(
      PUSH,
      pushOf(fileOp({ path: 'x.bin', dataBase64: null })),
      400,
      'inline_binary_forbidden',
    );
  });

  it.each([
    ['upper-case hash', { sha256: sha.toUpperCase(), size: 1 }],
    ['short hash', { sha256: sha.slice(1), size: 1 }],
    ['long hash', { sha256: `${sha}a`, size: 1 }],
    ['non-hex hash', { sha256: 'g'.repeat(64), size: 1 }],
    ['numeric hash', { sha256: 1, size: 1 }],
    ['missing hash', { size: 1 }],
    ['negative size', { sha256: sha, size: -1 }],
    ['fractional size', { sha256: sha, size: 1.5 }],
    ['size as string', { sha256: sha, size: '1' }],
    ['missing size', { sha256: sha }],
    ['blob as string', sha],
    ['blob as null', null],
  ])('%s → 400 invalid_blob_reference', async (_name, blob) => {
    await refused(PUSH, pushOf(fileOp({ path: 'x.bin', blob })), 400, 'invalid_blob_reference');
  });

  it('a well-formed reference to a blob never uploaded to this vault → 400 blob_not_owned', async () => {
    await refused(
      PUSH,
      pushOf(fileOp({ path: 'x.bin', blob: { sha256: sha, size: 3 } })),
      400,
      'blob_not_owned',
    );
    await refused(
      PUSH,
      pushOf(good({ op_id: 'ok' }), fileOp({ blob: { sha256: sha, size: 0 } })),
      400,
      'blob_not_owned',
    );
  });

  it('inspects only file ops', async () => {
    const res = await send(
      PUSH,
      pushOf(
        good({ op_id: 'folder-b64', entity_type: 'folder', payload_json: '{"dataBase64":"AAAA"}' }),
        good({
          op_id: 'node-blob',
          entity_type: 'node',
          payload_json: '{"blob":{"sha256":"X","size":-1}}',
        }),
        good({ op_id: 'file-empty', payload_json: '' }),
        good({ op_id: 'file-array', payload_json: '[{"dataBase64":"AAAA"}]' }),
      ),
    );
    expect(res.json().accepted).toEqual(['folder-b64', 'node-blob', 'file-empty', 'file-array']);
  });
});

describe('pull bodies', () => {
  it.each([
    ['malformed', 400, 'invalid_json', '{"since_sequence": '],
    ['empty', 400, 'invalid_json', ''],
    ['trailing', 400, 'trailing_json', '{} []'],
    ['an array', 400, 'invalid_json', '[0]'],
    ['null', 400, 'invalid_json', 'null'],
    ['a string since_sequence', 400, 'invalid_json', '{"since_sequence": "5"}'],
    ['a fractional since_sequence', 400, 'invalid_json', '{"since_sequence": 1.5}'],
    ['a boolean page_limit', 400, 'invalid_json', '{"page_limit": true}'],
    ['a negative since_sequence', 400, 'invalid_request', '{"since_sequence": -1}'],
    ['a negative page_limit', 400, 'invalid_request', '{"page_limit": -1}'],
    ['__proto__', 400, 'invalid_json', '{"__proto__": {"since_sequence": 1}}'],
    [
      'a body over max_json_body',
      413,
      'request_too_large',
      JSON.stringify({ pad: 'x'.repeat(5000) }),
    ],
  ])('%s → %i %s', async (_name, status, code, body) => {
    await refused(PULL, body, status, code);
  });
});

describe('pair bodies', () => {
  const pairBody = (body: string) =>
    server.app.inject({
      method: 'POST',
      url: '/api/client/pair',
      remoteAddress: nextPeer(),
      payload: body,
    });

  it.each([
    ['malformed', 400, 'invalid_json', '{"login":'],
    [
      'a numeric login',
      400,
      'invalid_json',
      JSON.stringify({ login: 1, password: PASSWORD, vault_id: 'v' }),
    ],
    ['an array', 400, 'invalid_json', '[]'],
    [
      '__proto__',
      400,
      'invalid_json',
      `{"__proto__": {}, "login": "alice", "password": "${PASSWORD}", "vault_id": "v"}`,
    ],
    [
      'a body over max_json_body',
      413,
      'request_too_large',
      JSON.stringify({ login: 'alice', password: 'x'.repeat(5000) }),
    ],
  ])('%s → %i %s', async (_name, status, code, body) => {
    const head = server.runtime.store.head();
    const res = await pairBody(body);
    expect([res.statusCode, res.json()]).toEqual([status, { error: expect.any(String), code }]);
    expect(server.runtime.store.head()).toBe(head);
  });
});

describe('unauthenticated requests', () => {
  it('are refused with 401 before their body is read', async () => {
    const huge = JSON.stringify(
      pushOf(...Array.from({ length: 5 }, () => good({ entity_id: 'e'.repeat(4000) }))),
    );
    for (const [url, body] of [
      [PUSH, '{"ops": ['],
      [PUSH, huge],
      [PUSH, '[]'],
      [PULL, '{"since_sequence": -1}'],
      [PULL, JSON.stringify({ pad: 'x'.repeat(5000) })],
    ] as const) {
      await refused(url, body, 401, 'unauthorized', { token: '', deviceId: '', userId: '' });
    }
  });
});

describe('Content-Type', () => {
  it('is not checked: a JSON body is read whatever the header says (CONTRACT.md §2)', async () => {
    const types = [
      'text/plain',
      'application/x-www-form-urlencoded',
      'json',
      '',
      ' ',
      'application/json;;;',
      'x',
    ];
    for (const [i, type] of types.entries()) {
      const res = await send(PUSH, pushOf(good({ op_id: `typed-${i}` })), { 'content-type': type });
      expect([type, res.statusCode, res.json()]).toEqual([
        type,
        200,
        expect.objectContaining({ accepted: [`typed-${i}`] }),
      ]);
    }
  });
});

describe('a wrong method or an unknown path', () => {
  it('is answered 405 or 404 whatever the body holds (CONTRACT.md §2)', async () => {
    const bodies = ['{"ops": [', '[] []', JSON.stringify({ pad: 'x'.repeat(5000) }), '"x"'];
    for (const payload of bodies) {
      for (const [method, url] of [
        ['POST', '/api/v1/health'],
        ['PUT', '/api/v1/sync/push'],
        ['DELETE', '/api/client/pair'],
        ['PATCH', '/api/client/me'],
      ] as const) {
        const res = await server.app.inject({ method, url, payload });
        expect([method, url, res.statusCode, res.json().code]).toEqual([
          method,
          url,
          405,
          'method_not_allowed',
        ]);
      }
      const unknown = await server.app.inject({ method: 'POST', url: '/api/v1/nothing', payload });
      expect([unknown.statusCode, unknown.json()]).toEqual([
        404,
        { error: 'not found', code: 'not_found' },
      ]);
    }
  });
});

describe('strings that are not valid Unicode', () => {
  // The escape goes into the JSON text as written: JSON.stringify would not produce it.
  const opText = (field: string, escaped: string) =>
    JSON.stringify(pushOf(good({ op_id: 'u-1', [field]: 'PLACEHOLDER' }))).replace(
      '"PLACEHOLDER"',
      `"${escaped}"`,
    );

  it.each([
    ['op_id', 'x\\ud800'],
    ['entity_id', '\\udc00x'],
    ['created_at', '\\ud800\\ud800'],
    ['payload_json', '{\\"c\\":\\"\\udfff\\"}'],
  ])('a lone surrogate escape in %s → 400 invalid_json', async (field, escaped) => {
    const body = opText(field, escaped);
    expect(() => JSON.parse(body) as unknown).not.toThrow();
    await refused(PUSH, body, 400, 'invalid_json');
  });

  it('a lone surrogate escape in a key or a pull body → 400 invalid_json', async () => {
    await refused(PUSH, '{"ops": [], "\\ud800": 1}', 400, 'invalid_json');
    await refused(PULL, '{"since_sequence": 0, "x": ["\\udbff"]}', 400, 'invalid_json');
  });

  it('a surrogate pair escape is an ordinary character and comes back as sent', async () => {
    const res = await send(PUSH, opText('op_id', '\\ud83d\\ude00-\\\\ud800'));
    expect(res.json().accepted).toEqual(['😀-\\ud800']);
    const pulled = await send(PULL, { since_sequence: 0 });
    expect(pulled.json().ops.map((o: { op_id: string }) => o.op_id)).toContain('😀-\\ud800');
  });
});
