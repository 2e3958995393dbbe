/**
 * A failure the client caused or may act on. `code` is the contract's machine code
 * (CONTRACT.md §2.1); clients switch on it, never on the message.
 */
export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = 'AppError';
  }
}

export const badRequest = (message: string, code = 'invalid_request') =>
  new AppError(400, code, message);
export const notFound = (message = 'not found', code = 'not_found') =>
  new AppError(404, code, message);
export const conflict = (message: string, code = 'already_exists') =>
  new AppError(409, code, message);
