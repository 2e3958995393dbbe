// Links mailed to users. The base is the configured public URL, never a request's Host.

const withToken = (base: string, path: string, token: string) =>
  `${base}${path}?token=${encodeURIComponent(token)}`;

/** Opens a page that asks for a click: mail scanners follow links, so a GET never confirms. */
export const confirmLink = (base: string, token: string) =>
  withToken(base, '/api/v1/auth/confirm', token);

export const resetLink = (base: string, token: string) => withToken(base, '/reset', token);

export const forgotLink = (base: string) => `${base}/forgot`;
