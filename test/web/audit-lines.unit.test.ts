import { describe, expect, it } from 'vitest';
import { CATALOGUE } from '../../src/log/index.js';
import { AUDIT_LINES, AUDIT_TYPE_NAMES, lineOf } from '../../src/web/admin/audit-lines.js';
import { translator } from '../../src/web/i18n/index.js';

// Other sections add event types as they go: each one needs a line and a name on the
// audit page, or the page would show it as a raw type with no line.

describe('the audit lines', () => {
  it('cover every event type of the catalogue', () => {
    const missing = CATALOGUE.types.filter(
      (type) => !(type in AUDIT_LINES) || !(type in AUDIT_TYPE_NAMES),
    );
    expect(missing).toEqual([]);
  });

  it('name no type the catalogue does not hold', () => {
    expect(Object.keys(AUDIT_LINES).filter((t) => !CATALOGUE.types.includes(t))).toEqual([]);
  });

  it('read a refusal summary without what was typed', () => {
    const t = translator('en');
    const names = {
      user: (id?: string) => (id === 'u1' ? 'alice' : '?'),
      device: () => '?',
      target: (key: string) => (key === 'user:u1' ? 'alice' : `a typed name (#${key.slice(6)})`),
    };
    const line = lineOf(
      'SecurityRefusalsCounted',
      {
        kind: 'user_login',
        windowStart: '2026-12-04T10:00:00.000Z',
        windowEnd: '2026-12-04T10:05:00.000Z',
        count: 1234,
        reasons: [{ reason: 'wrong_password', count: 1234 }],
        sources: [{ ip: '10.0.0.1', count: 1000 }],
        targets: [
          { key: 'user:u1', count: 1000 },
          { key: 'typed:0a1b2c3d', count: 234 },
        ],
      },
      { t, locale: 'en', names },
    );
    expect(line).toEqual({
      text: '1,234 refused sign-ins of users from Dec 4, 2026, 10:00 AM UTC to 10:05 AM UTC',
      details: [
        'Why: wrong password (1,234)',
        'From: 10.0.0.1 (1,000)',
        'Aimed at: alice (1,000), a typed name (#0a1b2c3d) (234)',
      ],
    });
  });
});
