import { BlockList, isIP } from 'node:net';

// The names fastify's trustProxy (proxy-addr) accepts besides addresses and CIDRs.
const NAMED_RANGES: Readonly<Record<string, readonly string[]>> = {
  loopback: ['127.0.0.1/8', '::1/128'],
  linklocal: ['169.254.0.0/16', 'fe80::/10'],
  uniquelocal: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7'],
};

const familyOf = (ip: string) => (isIP(ip) === 6 ? 'ipv6' : 'ipv4');

/** An IPv4 peer reached through a dual-stack socket is reported as `::ffff:a.b.c.d`. */
const unmapped = (ip: string) => /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip)?.[1] ?? ip;

function add(list: BlockList, entry: string): void {
  const [address = '', prefix] = entry.trim().split('/');
  const ip = unmapped(address);
  if (!isIP(ip)) return; // fastify refuses such an entry when it builds its own matcher
  const family = familyOf(ip);
  if (prefix === undefined) {
    list.addAddress(ip, family);
    return;
  }
  const bits = Number(prefix);
  if (Number.isInteger(bits) && bits >= 0 && bits <= (family === 'ipv6' ? 128 : 32)) {
    list.addSubnet(ip, bits, family);
  }
}

/**
 * Whether a socket's peer is one of `trusted_proxies` (addresses, CIDRs, or the names
 * loopback, linklocal, uniquelocal), matched as fastify matches them for X-Forwarded-For.
 */
export function createTrustedPeers(
  entries: readonly string[],
): (ip: string | undefined) => boolean {
  if (entries.length === 0) return () => false;
  const list = new BlockList();
  for (const entry of entries) {
    for (const range of NAMED_RANGES[entry.trim()] ?? [entry]) add(list, range);
  }
  return (ip) => {
    if (!ip) return false;
    const bare = unmapped(ip.split('%')[0]!);
    return isIP(bare) !== 0 && list.check(bare, familyOf(bare));
  };
}
