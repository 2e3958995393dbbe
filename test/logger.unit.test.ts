import { describe, expect, it } from 'vitest';
import { redactUrl } from '../src/logger.js';

describe('redactUrl', () => {
  it('hides e-mail tokens and API keys wherever they sit in the query', () => {
    expect(redactUrl('/api/v1/auth/confirm?token=abc123')).toBe(
      '/api/v1/auth/confirm?token=<redacted>',
    );
    expect(redactUrl('/reset?lang=ru&token=abc&x=1')).toBe('/reset?lang=ru&token=<redacted>&x=1');
    // The query parser reads a `#` as part of the value: it goes with the secret.
    expect(redactUrl('/api/client/me?API_KEY=secret#frag')).toBe(
      '/api/client/me?API_KEY=<redacted>',
    );
    expect(redactUrl('/a?token=1&api_key=2')).toBe('/a?token=<redacted>&api_key=<redacted>');
  });

  it('leaves other parameters and paths alone', () => {
    expect(redactUrl('/api/v1/user/devices')).toBe('/api/v1/user/devices');
    expect(redactUrl('/x?mytoken=1&tokens=2')).toBe('/x?mytoken=1&tokens=2');
  });
});
