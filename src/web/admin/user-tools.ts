import type { FastifyRequest } from 'fastify';
import type { Ids } from '../../ids.js';
import { ADMIN_SESSION_COOKIE } from './session.js';

// Small pieces the users page, its create form and the one-time password page share.

/** A password the console makes up: `hexChars` hex digits of a fresh 256-bit secret. */
export const generatedPassword = (ids: Pick<Ids, 'secret'>, hexChars: 24 | 32) =>
  ids.secret().slice(0, hexChars);

/** The admin session's token, which the one-time secret is kept under (as its sha256). */
export const adminTokenOf = (request: FastifyRequest) =>
  request.cookies[ADMIN_SESSION_COOKIE] ?? '';

/** Where an action returns: the users list as it was shown, else its first page. */
export function backTo(back: string): string {
  return /^\/admin\/users(\?[^#\\\s]*)?$/.test(back) ? back : '/admin/users';
}

/** The list URL with an action's flash, naming the user it concerned. */
export const withFlash = (url: string, flash: string, who: string) => {
  const [path, search = ''] = url.split('?', 2) as [string, string?];
  const params = new URLSearchParams(search);
  params.set('flash', flash);
  params.set('who', who);
  return `${path}?${params.toString()}`;
};
