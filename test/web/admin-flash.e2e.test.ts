import { describe, expect, it } from 'vitest';
import { adminBrowser, startAdminServer } from './admin-rig.js';

// A flash is looked up by the query string: only a table's own keys name a message, so
// `constructor` or `__proto__` is no flash at all, never a 500.

describe('a flash named by the query string', () => {
  it('is ignored unless the page knows it', async () => {
    const server = await startAdminServer();
    const admin = await adminBrowser(server);
    for (const page of ['/admin/users', '/admin/devices', '/admin/settings']) {
      for (const flash of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
        const res = await admin.get(`${page}?flash=${flash}`);
        expect(res.statusCode, `${page} ${flash}`).toBe(200);
        expect(res.body, `${page} ${flash}`).not.toContain('class="flash');
      }
    }
  });
});
