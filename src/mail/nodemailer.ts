import { createRequire } from 'node:module';
import type * as Nodemailer from 'nodemailer';

/**
 * nodemailer, loaded on first use rather than at start: it is some forty modules (about
 * 3 MiB of the server's resident memory) that a server sending no mail for days never needs.
 * It is CommonJS, so a require loads it synchronously where a transport is made.
 */
export function nodemailer(): typeof Nodemailer {
  return createRequire(import.meta.url)('nodemailer') as typeof Nodemailer;
}
