import { describe, expect, it } from 'vitest';
import { redactUrl } from '../src/logger.js';

// issue 12: `?api%5Fkey=` authenticated as api_key but reached the request log in clear.
describe('redactUrl, by the name the query parser reads', () => {
  it.each([
    ['api%5Fkey', 'api%5Fkey'],
    ['%61%70%69%5f%6b%65%79', '%61%70%69%5f%6b%65%79'],
    ['tok%65n', 'tok%65n'],
    ['new%5Fpassword', 'new%5Fpassword'],
    ['password', 'password'],
    ['device_token', 'device_token'],
    ['csrf%5ftoken', 'csrf%5ftoken'],
  ])('redacts %s', (name) => {
    const url = `/api/v1/sync/pull?x=1&${name}=s3cret-value&y=2`;
    expect(redactUrl(url)).toBe(`/api/v1/sync/pull?x=1&${name}=<redacted>&y=2`);
  });

  it('redacts every repetition and keeps names that do not decode as sent', () => {
    expect(redactUrl('/a?api_key=1&api%5Fkey=2&%zz=3&token=4')).toBe(
      '/a?api_key=<redacted>&api%5Fkey=<redacted>&%zz=3&token=<redacted>',
    );
  });

  it('leaves a URL without secrets untouched, malformed encodings included', () => {
    for (const url of ['/x?a=%E0%A4%A&b', '/%zz?q=1', '/x?api_keys=1&my%5Ftoken=2', '/x?']) {
      expect(redactUrl(url)).toBe(url);
    }
  });
});
