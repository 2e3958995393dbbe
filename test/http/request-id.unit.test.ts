import { describe, expect, it } from 'vitest';
import { createRequestIds } from '../../src/http/request-id.js';

describe('request ids', () => {
  it('are 16 hex characters and do not repeat across refills of the pool', () => {
    const next = createRequestIds();
    const ids = Array.from({ length: 5000 }, next);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{16}$/);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('differ between generators', () => {
    const a = createRequestIds();
    const b = createRequestIds();
    expect(a()).not.toBe(b());
  });
});
