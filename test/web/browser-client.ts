import type { FastifyInstance, LightMyRequestResponse } from 'fastify';

/**
 * What a browser does between requests, over inject: keeps the cookies the server sets,
 * sends them back, and reads hidden fields out of the forms it renders.
 */
export class WebClient {
  readonly cookies = new Map<string, string>();

  constructor(
    private readonly app: FastifyInstance,
    private readonly headers: Record<string, string> = {},
    private readonly remoteAddress = '127.0.0.1',
  ) {}

  private remember(res: LightMyRequestResponse) {
    for (const c of res.cookies) {
      if (c.maxAge === 0 || (c.expires && c.expires.getTime() <= Date.now())) {
        this.cookies.delete(c.name);
      } else {
        this.cookies.set(c.name, c.value);
      }
    }
    return res;
  }

  cookieHeader(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  async get(url: string, headers: Record<string, string> = {}) {
    return this.remember(
      await this.app.inject({
        method: 'GET',
        url,
        remoteAddress: this.remoteAddress,
        headers: { ...this.headers, cookie: this.cookieHeader(), ...headers },
      }),
    );
  }

  async post(url: string, fields: Record<string, string>, headers: Record<string, string> = {}) {
    return this.remember(
      await this.app.inject({
        method: 'POST',
        url,
        remoteAddress: this.remoteAddress,
        payload: new URLSearchParams(fields).toString(),
        headers: {
          ...this.headers,
          'content-type': 'application/x-www-form-urlencoded',
          cookie: this.cookieHeader(),
          ...headers,
        },
      }),
    );
  }

  /** Posts a form of the page at `page`, with the hidden tokens it carries. */
  async submit(page: string, url: string, fields: Record<string, string>) {
    const html = (await this.get(page)).body;
    return this.post(url, { ...hiddenFields(html), ...fields });
  }
}

/** The hidden inputs of a page by name (the first of each name wins). */
export function hiddenFields(html: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const m of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) {
    fields[m[1]!] ??= decodeEntities(m[2]!);
  }
  return fields;
}

const decodeEntities = (s: string) =>
  s.replace(/&#(\d+);/g, (_m, code: string) => String.fromCharCode(Number(code)));

export const langOf = (html: string) => /<html lang="([^"]+)">/.exec(html)?.[1];
