import { join } from 'node:path';
import fastifyStatic from '@fastify/static';
import fastifyView from '@fastify/view';
import { Eta } from 'eta';
import type { FastifyInstance } from 'fastify';
import { APP_DIR } from '../app-dir.js';

export const VIEWS_DIR = join(APP_DIR, 'views');
export const STATIC_DIR = join(APP_DIR, 'static');

/** Numeric entities, the escaping the pages have always used, for `<%= %>`. */
export const escapeHtml = (value: unknown): string =>
  String(value).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * The template engine (shared, so the confirm page of the auth API can use it) and the
 * stylesheet and logo under /static/. Neither is a route plugin: both decorate the app.
 */
export async function registerWebAssets(app: FastifyInstance) {
  await app.register(fastifyView, {
    engine: { eta: new Eta({ autoEscape: true, escapeFunction: escapeHtml, useWith: false }) },
    root: VIEWS_DIR,
    layout: 'layout.eta',
    // Templates ship with the server: compiled once, never re-read.
    production: true,
  });
  await app.register(fastifyStatic, {
    root: STATIC_DIR,
    prefix: '/static/',
    index: false,
    list: false,
    // One route per file found at start-up: nothing else under /static/ is ever looked up.
    wildcard: false,
    // Unversioned names: a day of caching, then a cheap revalidation by ETag.
    maxAge: '1d',
    etag: true,
    lastModified: true,
  });
}
