import { isIP } from 'node:net';

/**
 * The client a per-client budget belongs to: an IPv4 address (IPv4-mapped IPv6 included),
 * or the /64 prefix of an IPv6 address. One host usually holds a whole /64, so counting
 * each IPv6 address apart would hand it 2^64 budgets.
 */
export function clientKeyOf(ip: string): string {
  const bare = ip.split('%')[0]!.toLowerCase();
  const family = isIP(bare);
  if (family !== 6) return bare;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(bare);
  if (mapped) return mapped[1]!;
  return `${hextets(bare).slice(0, 4).join(':')}::/64`;
}

/** The eight groups of a valid IPv6 address, without leading zeros. */
function hextets(ip: string): string[] {
  const [head = '', tail] = ip.split('::');
  const groups = (part: string) => (part === '' ? [] : part.split(':').flatMap(embeddedV4));
  const left = groups(head);
  const right = tail === undefined ? [] : groups(tail);
  const zeros = Array<string>(8 - left.length - right.length).fill('0');
  return [...left, ...zeros, ...right].map((g) => parseInt(g, 16).toString(16));
}

/** A trailing dotted quad stands for the last two groups. */
function embeddedV4(group: string): string[] {
  if (!group.includes('.')) return [group];
  const [a, b, c, d] = group.split('.').map(Number) as [number, number, number, number];
  return [((a << 8) | b).toString(16), ((c << 8) | d).toString(16)];
}
