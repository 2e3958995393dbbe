import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { DEFAULT_PORT } from '../config.js';

export const DEFAULT_DATA_DIR = './server-data';

export const dataDirOf = (opts: { data?: string }) => resolve(opts.data ?? DEFAULT_DATA_DIR);

/** Reads a secret from a file, dropping one trailing newline (editors add it). */
export function readSecretFile(path: string): string {
  return readFileSync(path, 'utf8').replace(/\r?\n$/, '');
}

export async function readSecretStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

/** `host:port`, `[v6]:port`, or a bare port (loopback). */
export function parseListen(value: string): ListenAddress {
  const v6 = /^\[([^\]]+)\]:(\d+)$/.exec(value);
  const plain = /^([^:]*):(\d+)$/.exec(value);
  const bare = /^(\d+)$/.exec(value);
  const [host, port] = v6
    ? [v6[1]!, Number(v6[2])]
    : plain
      ? [plain[1] || '0.0.0.0', Number(plain[2])]
      : bare
        ? ['127.0.0.1', Number(bare[1])]
        : ['', NaN];
  if (!host || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`invalid listen address "${value}" (expected host:port)`);
  }
  return { host, port };
}

export function resolveListen(opts: {
  listen?: string;
  port?: string;
  configured?: string;
}): ListenAddress {
  const env = process.env;
  const listen = opts.listen ?? env.VERSTAK_LISTEN;
  if (listen) return parseListen(listen);
  const port = opts.port ?? env.VERSTAK_PORT;
  if (port) return parseListen(`127.0.0.1:${port}`);
  return parseListen(opts.configured ?? `127.0.0.1:${DEFAULT_PORT}`);
}

export const parseIntOption = (name: string) => (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer`);
  return n;
};
