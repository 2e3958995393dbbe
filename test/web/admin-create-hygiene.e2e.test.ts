import { describe, expect, it } from 'vitest';
import { addUser } from '../helpers/sync-app.js';
import { adminBrowser, logHead, startAdminServer } from './admin-rig.js';
import { hiddenFields } from './browser-client.js';

// The console's own entry to the users table follows the same rules as self-registration.

describe('/admin/create-user and input hygiene', () => {
  it('refuses control characters and look-alike names, appending nothing', async () => {
    const server = await startAdminServer();
    await addUser(server, 'alice');
    const client = await adminBrowser(server);
    const head = logHead(server);
    const fields = hiddenFields((await client.get('/admin/create-user')).body);
    const cases = [
      [{ username: 'eve\u202e', email: 'eve@example.test' }, 400, 'text-direction marks'],
      [{ username: 'eve', email: 'eve\u001bc@example.test' }, 400, 'text-direction marks'],
      [
        { username: '\u0430lice', email: 'a2@example.test' },
        409,
        'This username is already taken.',
      ],
      [
        { username: 'ａｌｉｃｅ', email: 'a3@example.test' },
        409,
        'This username is already taken.',
      ],
    ] as const;
    for (const [form, status, message] of cases) {
      const res = await client.post('/admin/create-user', {
        ...fields,
        password_mode: 'generate',
        locale: 'en',
        ...form,
      });
      expect(res.statusCode, JSON.stringify(form)).toBe(status);
      expect(res.body).toContain(message);
    }
    expect(logHead(server)).toBe(head);
  });
});
