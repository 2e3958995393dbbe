import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { AppError } from '../../errors.js';
import { requestMeta, wireTime } from '../../http/body.js';
import {
  countDevices,
  listDevicesForApi,
  listKeysForApi,
  MAX_API_PAGE,
} from '../../projections/admin-device-api.js';
import type { WebDeps } from '../index.js';
import { adminApi } from './api-guard.js';
import { bounded } from './list-query.js';

// CONTRACT.md §10: the devices and their keys as JSON. The reference answered every row;
// here an answer is one page, by default the newest MAX_API_PAGE, so that a large server
// cannot be made to build an unbounded array. X-Total-Count says whether there is more.

const PageQuery = z.object({
  page: bounded(1, 100_000, 1),
  per_page: bounded(1, MAX_API_PAGE, MAX_API_PAGE),
});

const IdParams = z.object({ id: z.string().catch('') });

const pageOf = (query: unknown) => {
  const q = PageQuery.parse(query ?? {});
  return { page: q.page, perPage: q.per_page };
};

export function devicesApiRoutes(app: FastifyInstance, deps: WebDeps) {
  const { db, devices, configuredPublicUrl } = deps;
  const read = adminApi(configuredPublicUrl, { write: false });
  const write = adminApi(configuredPublicUrl, { write: true });

  app.get('/admin/api/devices', read, async (request, reply) => {
    reply.header('cache-control', 'no-store').header('x-total-count', String(countDevices(db)));
    return listDevicesForApi(db, pageOf(request.query)).map((d) => ({
      id: d.id,
      name: d.name,
      client_version: d.client_version,
      last_seen: wireTime(d.last_seen),
      revoked_at: wireTime(d.revoked_at),
      created_at: wireTime(d.created_at),
      user: d.username,
    }));
  });

  app.get('/admin/api/keys', read, async (request, reply) => {
    reply.header('cache-control', 'no-store').header('x-total-count', String(countDevices(db)));
    // Devices paired before hints were recorded have none: "" like the other empty fields.
    return listKeysForApi(db, pageOf(request.query)).map((k) => ({
      id: k.id,
      name: k.name,
      token_hint: k.token_hint ?? '',
    }));
  });

  // The reference's behaviour: the key stops working, so an active device is revoked in
  // the same append; an unknown id is 200 too, and changes nothing.
  app.delete('/admin/api/keys/:id', write, async (request) => {
    const { id } = IdParams.parse(request.params);
    const meta = requestMeta(request, `admin:${request.admin!.username}`);
    try {
      devices.remove(id, { revokeFirst: true }, meta);
    } catch (err) {
      if (!(err instanceof AppError && err.status === 404)) throw err;
    }
    return { status: 'deleted' };
  });
}
