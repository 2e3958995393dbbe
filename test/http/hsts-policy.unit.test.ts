import { describe, expect, it } from 'vitest';
import { createBus } from '../../src/bus.js';
import type { RecordedEvent } from '../../src/log/index.js';
import { createHstsPolicy, HSTS_VALUE, isHttpsUrl } from '../../src/http/plugins/hsts.js';

// The public URL is a database read; the policy keeps its answer until a settings change
// is announced on the bus, or for at most ten seconds (a change by another process).

function rig(initial: string) {
  let url: string | Error = initial;
  let reads = 0;
  let now = 1_000_000;
  const bus = createBus();
  const policy = createHstsPolicy({
    configuredPublicUrl: () => {
      reads += 1;
      if (url instanceof Error) throw url;
      return url;
    },
    bus,
    now: () => now,
  });
  const announce = (type: string) => bus.emit('committed', [{ type } as unknown as RecordedEvent]);
  return {
    policy,
    announce,
    set: (next: string | Error) => (url = next),
    advance: (ms: number) => (now += ms),
    reads: () => reads,
  };
}

describe('the Strict-Transport-Security policy', () => {
  it('reads the public URL once, not per answer', () => {
    const r = rig('https://sync.example.test');
    for (let i = 0; i < 100; i++) expect(r.policy()).toBe(HSTS_VALUE);
    expect(r.reads()).toBe(1);
  });

  it('follows a settings change announced on the bus at once', () => {
    const r = rig('http://lan.example');
    expect(r.policy()).toBeUndefined();
    r.set('https://sync.example.test');
    r.announce('UserRegistered');
    expect(r.policy()).toBeUndefined();
    r.announce('SmtpSettingsChanged');
    expect(r.policy()).toBe(HSTS_VALUE);
    expect(r.reads()).toBe(2);
  });

  it('re-reads after ten seconds without an announcement', () => {
    const r = rig('https://sync.example.test');
    expect(r.policy()).toBe(HSTS_VALUE);
    r.set('');
    r.advance(9_999);
    expect(r.policy()).toBe(HSTS_VALUE);
    r.advance(1);
    expect(r.policy()).toBeUndefined();
  });

  it('keeps the last answer when the read fails, and stops following the bus', () => {
    const r = rig('https://sync.example.test');
    expect(r.policy()).toBe(HSTS_VALUE);
    r.set(new Error('SQLITE_IOERR'));
    r.announce('SmtpSettingsChanged');
    expect(r.policy()).toBe(HSTS_VALUE);
    r.set('');
    r.advance(1);
    r.policy.stop();
    r.announce('SmtpSettingsChanged');
    expect(r.policy()).toBe(HSTS_VALUE);
  });

  it.each([
    ['https://a.example', true],
    [' HTTPS://A.EXAMPLE:8443/x ', true],
    ['http://a.example', false],
    ['https:/a', true],
    ['httpsx://a', false],
    ['', false],
    ['sync.example.test', false],
  ])('counts %j as https: %s', (url, https) => {
    expect(isHttpsUrl(url)).toBe(https);
  });
});
