import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { findDeviceById } from '../../projections/devices.js';
import { field } from '../forms.js';
import type { WebDeps } from '../index.js';
import type { AdminScope } from './inventory.js';

// CONTRACT.md §11: revoke-device and delete-device, both re-authenticated by the
// dispatcher. A device is named in the form by its id and in the flash by its name.

const DeviceActionForm = z.object({ id: field, back: field });

/** Where an action returns: the devices list as it was shown, else its first page. */
const backTo = (back: string) =>
  /^\/admin\/devices(\?[^#\\\s]*)?$/.test(back) ? back : '/admin/devices';

const withFlash = (url: string, flash: string, who: string) => {
  const [path, search = ''] = url.split('?', 2) as [string, string?];
  const params = new URLSearchParams(search);
  params.set('flash', flash);
  params.set('who', who);
  return `${path}?${params.toString()}`;
};

export const DEVICE_FLASHES = {
  device_revoked: 'adminFlashDeviceRevoked',
  device_deleted: 'adminFlashDeviceDeleted',
} as const;

export function deviceActions(deps: WebDeps, { actions, adminError }: AdminScope) {
  const { db, devices } = deps;

  const deviceOf = (body: unknown) => {
    const form = DeviceActionForm.safeParse(body);
    const id = form.success ? form.data.id : '';
    return {
      device: id ? findDeviceById(db, id) : undefined,
      back: backTo(form.success ? form.data.back : ''),
    };
  };
  const unknown = (request: FastifyRequest, reply: FastifyReply) =>
    adminError(request, reply, 404, 'notFoundTitle', 'adminUnknownDevice', '/admin/devices');

  actions.set('revoke-device', {
    reauth: true,
    run: async ({ request, reply, body, meta }) => {
      const { device, back } = deviceOf(body);
      if (!device) return unknown(request, reply);
      // Revoking a revoked device changes nothing and says so the same way.
      devices.revoke(device.id, device.user_id, 'admin', meta);
      return reply.redirect(withFlash(back, 'device_revoked', device.name), 303);
    },
  });

  actions.set('delete-device', {
    reauth: true,
    run: async ({ request, reply, body, meta }) => {
      const { device, back } = deviceOf(body);
      if (!device) return unknown(request, reply);
      if (device.revoked_at === null) {
        return adminError(
          request,
          reply,
          409,
          'adminDeviceActiveTitle',
          'adminDeviceActive',
          '/admin/devices',
        );
      }
      devices.remove(device.id, { revokeFirst: false }, meta);
      return reply.redirect(withFlash(back, 'device_deleted', device.name), 303);
    },
  });
}
