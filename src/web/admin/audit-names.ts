import type { Sqlite } from '../../log/index.js';
import { prepared } from '../../projections/query.js';
import { findUserById, findUserByUsername } from '../../projections/users.js';
import type { MessageKey, Translate } from '../i18n/index.js';
import type { LineNames } from './audit-lines.js';

// Who the audit page's filters and lines name: typed names resolved to ids for the index,
// ids back to the names the projections still know.

const short = (id: string) => (id.length > 12 ? `${id.slice(0, 8)}…` : id);

/** A user named by username, else by id; an unknown text is still tried as an id. */
export function resolveUser(db: Sqlite, text: string): { id?: string; note?: MessageKey } {
  if (!text) return {};
  const user = findUserByUsername(db, text) ?? findUserById(db, text);
  return user ? { id: user.id } : { id: text, note: 'auditUserAsId' };
}

export function resolveDevice(
  db: Sqlite,
  text: string,
): { id?: string; note?: MessageKey; count?: number } {
  if (!text) return {};
  if (prepared(db, 'SELECT 1 FROM devices WHERE id = ?').get(text)) return { id: text };
  const ids = prepared(db, 'SELECT id FROM devices WHERE name = ? LIMIT 10').pluck().all(text);
  if (ids.length === 1) return { id: ids[0] as string };
  if (ids.length > 1) return { id: '', note: 'auditDeviceAmbiguous', count: ids.length };
  return { id: text, note: 'auditDeviceAsId' };
}

/** Names as the projections know them now, looked up once per page. */
export function namesOf(db: Sqlite, t: Translate): LineNames {
  const users = new Map<string, string>();
  const devices = new Map<string, string>();
  const userName = prepared(db, 'SELECT username FROM users WHERE id = ?').pluck();
  const deviceName = prepared(db, 'SELECT name FROM devices WHERE id = ?').pluck();
  const user = (id: string | undefined) => {
    if (!id) return t('auditUnknownAccount');
    let name = users.get(id);
    if (name === undefined) {
      name = (userName.get(id) as string | undefined) ?? t('auditUserGone', { id: short(id) });
      users.set(id, name);
    }
    return name;
  };
  const device = (id: string | undefined) => {
    if (!id) return t('auditDeviceGone', { id: '?' });
    let name = devices.get(id);
    if (name === undefined) {
      name = (deviceName.get(id) as string | undefined) ?? t('auditDeviceGone', { id: short(id) });
      devices.set(id, name);
    }
    return name;
  };
  return {
    user,
    device,
    target: (key) =>
      key.startsWith('user:')
        ? user(key.slice(5))
        : key.startsWith('admin:')
          ? t('auditActorAdmin', { name: key.slice(6) })
          : key.startsWith('device:')
            ? device(key.slice(7))
            : t('auditTyped', { digest: key.replace(/^typed:/, '') }),
  };
}

export function actorOf(t: Translate, names: LineNames, actor: string): string {
  const [kind, ...rest] = actor.split(':');
  const id = rest.join(':');
  if (kind === 'user' && id) return names.user(id);
  if (kind === 'admin' && id) return t('auditActorAdmin', { name: id });
  if (kind === 'device' && id) return t('auditActorDevice', { name: names.device(id) });
  const fixed: Record<string, MessageKey> = {
    system: 'auditActorSystem',
    cli: 'auditActorCli',
    config: 'auditActorConfig',
    anonymous: 'auditActorAnonymous',
  };
  const key = fixed[actor];
  return key ? t(key) : actor;
}
