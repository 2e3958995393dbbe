import { connect, type Socket } from 'node:net';
import { expect, it } from 'vitest';
import { addUser, pair, startTestServer, textOp } from '../helpers/sync-app.js';

// Issue 12: a request that arrives while the server drains for shutdown gets the contract's
// error shape (CONTRACT.md §2.1), a code the desktop can act on, and when to come back.

function pushRequest(token: string, opId: string): { head: string; body: string } {
  const body = JSON.stringify({ ops: [textOp(opId, `${opId}.md`, 'x')] });
  const head =
    'POST /api/v1/sync/push HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n' +
    `Authorization: Bearer ${token}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n`;
  return { head, body };
}

/** The raw answers read from the socket until it closes. */
function readAll(socket: Socket): Promise<string> {
  let text = '';
  socket.on('data', (chunk: Buffer) => (text += chunk.toString()));
  return new Promise((resolve) => socket.on('close', () => resolve(text)));
}

it('answers a push that arrives during shutdown with 503 shutting_down and Retry-After', async () => {
  const server = await startTestServer();
  await addUser(server, 'alice');
  const device = await pair(server, 'alice', 'vault-1');
  await server.app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = server.app.server.address() as { port: number };
  const socket = connect(port, '127.0.0.1');
  await new Promise((resolve) => socket.once('connect', resolve));
  const answers = readAll(socket);
  // The first push is under way (headers sent) when shutdown begins; the second comes after
  // on the same keep-alive connection.
  const first = pushRequest(device.token, 'in-flight');
  socket.write(first.head);
  await new Promise((resolve) => setTimeout(resolve, 50));
  const closing = server.app.close();
  await new Promise((resolve) => setTimeout(resolve, 50));
  const second = pushRequest(device.token, 'late');
  socket.write(first.body + second.head + second.body);
  const text = await answers;
  await closing;

  const responses = text.split(/(?=HTTP\/1\.1 )/);
  expect(responses).toHaveLength(2);
  expect(responses[0]).toMatch(/^HTTP\/1\.1 200 /);
  expect(responses[1]).toMatch(/^HTTP\/1\.1 503 /);
  expect(responses[1]).toMatch(/\r\nretry-after: 5\r\n/i);
  expect(responses[1]).toMatch(/\r\ncontent-type: application\/json; charset=utf-8\r\n/i);
  expect(responses[1]!.split('\r\n\r\n')[1]).toBe(
    '{"error":"server shutting down, try again shortly","code":"shutting_down"}\n',
  );
  const stored = server.runtime.db
    .prepare('SELECT op_id FROM vault_ops ORDER BY seq')
    .pluck()
    .all();
  expect(stored).toEqual(['in-flight']);
  server.runtime.close();
});
