import { describe, expect, it } from 'vitest';
import { httpServerOptions } from '../../src/http/server-options.js';
import { createTrustedPeers } from '../../src/http/trusted-peers.js';

describe('createTrustedPeers', () => {
  it('matches addresses, CIDRs and the names fastify accepts, as a socket reports them', () => {
    const trusted = createTrustedPeers(['10.1.2.3', '192.168.0.0/16', '2001:db8::/32', 'loopback']);
    const cases = [
      ['10.1.2.3', true],
      ['10.1.2.4', false],
      ['192.168.77.1', true],
      ['::ffff:192.168.77.1', true],
      ['2001:db8:1::5', true],
      ['2001:db9::5', false],
      ['127.0.0.9', true],
      ['::1', true],
      ['fe80::1%eth0', false],
      [undefined, false],
      ['', false],
    ] as const;
    expect(cases.map(([ip]) => [ip, trusted(ip)])).toEqual(cases);
  });

  it('trusts nobody without entries, and skips entries it cannot read', () => {
    expect(createTrustedPeers([])('127.0.0.1')).toBe(false);
    const trusted = createTrustedPeers(['not-an-ip', '10.0.0.0/99', '10.0.0.1']);
    expect([trusted('10.0.0.1'), trusted('10.0.0.2')]).toEqual([true, false]);
  });
});

describe('httpServerOptions', () => {
  const timeouts = { headers_ms: 10_000, request_ms: 30_000 };

  it('checks slow clients at least every second, and more often for short bounds', () => {
    expect(httpServerOptions(timeouts)).toEqual({
      headersTimeout: 10_000,
      requestTimeout: 30_000,
      connectionsCheckingInterval: 1_000,
    });
    expect(httpServerOptions({ ...timeouts, headers_ms: 400 }).connectionsCheckingInterval).toBe(
      100,
    );
  });

  it('caps the headers timeout at the request timeout, which Node requires', () => {
    expect(httpServerOptions({ ...timeouts, headers_ms: 60_000 }).headersTimeout).toBe(30_000);
  });
});
