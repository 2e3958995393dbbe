import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Locale } from '../../http/locale.js';
import { CATALOGUE, redactedBy, type EventRow } from '../../log/index.js';
import { SEVERITY, severityOf, SYNC_TRAFFIC } from '../../projections/audit-index.js';
import { auditPage } from '../../projections/audit-queries.js';
import { field } from '../forms.js';
import { formatRelative } from '../format.js';
import { translator, type MessageKey, type Translate } from '../i18n/index.js';
import type { WebDeps } from '../index.js';
import { localeOf } from '../page.js';
import { lineOf, typeName, type LineNames } from './audit-lines.js';
import { actorOf, namesOf, resolveDevice, resolveUser } from './audit-names.js';
import type { AdminScope } from './inventory.js';
import { oneOf, pageUrl, trimmed } from './list-query.js';

// CONTRACT.md §9 /admin/audit: the log itself, newest first, one line per event in the
// page's language. Every filter is an index read (audit-queries.ts); paging is by seq.

const DATE = /^\d{4}-\d{2}-\d{2}$/;
const SEVERITIES = ['info', 'warning', 'error'] as const;
const PER_PAGES = [25, 50, 100] as const;

const date = field.transform((v) => v.trim().slice(0, 10));
/** A type as the catalogue spells it, or as the reference server's audit did (device_revoked). */
const eventType = field.transform((v) => {
  const type = /^[a-z]+(_[a-z]+)*$/.test(v)
    ? v.replace(/(^|_)([a-z])/g, (_m, _s: string, c: string) => c.toUpperCase())
    : v;
  return CATALOGUE.types.includes(type) ? type : '';
});
const AuditQuery = z.object({
  event: eventType,
  user: trimmed,
  device: trimmed,
  from: date,
  to: date,
  severity: oneOf(SEVERITIES, ''),
  before: field.transform((v) => (/^[1-9]\d{0,14}$/.test(v) ? Number(v) : undefined)),
  per_page: field.transform((v) => PER_PAGES.find((n) => String(n) === v) ?? PER_PAGES[0]),
});
type AuditQueryOut = z.output<typeof AuditQuery>;

const validDate = (v: string) => DATE.test(v) && !Number.isNaN(Date.parse(`${v}T00:00:00Z`));
const nextDay = (v: string) => new Date(Date.parse(`${v}T00:00:00Z`) + 86_400_000).toISOString();
const SEVERITY_VIEW: Record<number, { key: MessageKey; className: string }> = {
  [SEVERITY.info]: { key: 'auditSeverityInfo', className: 'badge-muted' },
  [SEVERITY.warning]: { key: 'auditSeverityWarning', className: 'badge-warn' },
  [SEVERITY.error]: { key: 'auditSeverityError', className: 'badge-error' },
};

function metaOf(row: EventRow): { actor: string; ip: string } {
  try {
    const meta = JSON.parse(row.meta) as { actor?: unknown; ip?: unknown };
    return {
      actor: typeof meta.actor === 'string' ? meta.actor : '',
      ip: typeof meta.ip === 'string' ? meta.ip : '',
    };
  } catch {
    return { actor: '', ip: '' };
  }
}

function rowView(
  locale: Locale,
  t: Translate,
  names: LineNames,
  now: Date,
  exact: Intl.DateTimeFormat,
) {
  return (row: EventRow) => {
    const { actor, ip } = metaOf(row);
    const erasedBy = redactedBy(row.data);
    let data: unknown;
    let line = { text: t('auditUnreadable'), details: [] as readonly string[] };
    if (erasedBy !== undefined) {
      line = { text: t('auditErased', { by: String(erasedBy) }), details: [] };
    } else {
      try {
        data = CATALOGUE.decode(row.type, row.schema_version, JSON.parse(row.data));
        line = lineOf(row.type, data, { t, locale, names }) ?? line;
      } catch {
        data = undefined;
      }
    }
    const severity = SEVERITY_VIEW[severityOf(row.type, data)] ?? SEVERITY_VIEW[SEVERITY.info]!;
    return {
      seq: row.seq,
      seqLabel: t('auditSeq', { seq: String(row.seq) }),
      at: row.at,
      time: formatRelative(locale, row.at, now),
      exact: `${exact.format(new Date(row.at))} UTC`,
      typeName: typeName(t, row.type),
      actor: actor ? actorOf(t, names, actor) : '',
      from: ip ? t('auditFrom', { ip }) : '',
      line: line.text,
      details: line.details,
      erased: erasedBy !== undefined,
      severity: t(severity.key),
      severityClass: severity.className,
    };
  };
}

const filterValues = (q: AuditQueryOut) => ({
  event: q.event,
  user: q.user,
  device: q.device,
  from: q.from,
  to: q.to,
  severity: q.severity,
  per_page: q.per_page === PER_PAGES[0] ? '' : q.per_page,
});

export function auditRoutes(app: FastifyInstance, deps: WebDeps, scope: AdminScope) {
  const { db, clock } = deps;

  app.get('/admin/audit', scope.signedIn, async (request, reply) => {
    const query = AuditQuery.parse(request.query ?? {});
    const locale = localeOf(request, deps);
    const t = translator(locale);
    const notes: string[] = [];
    const user = resolveUser(db, query.user);
    if (user.note) notes.push(t(user.note, { name: query.user }));
    const device = resolveDevice(db, query.device);
    if (device.note) {
      notes.push(t(device.note, { name: query.device, count: String(device.count ?? 0) }));
    }
    const badDate = [query.from, query.to].some((d) => d !== '' && !validDate(d));
    if (badDate) notes.push(t('auditBadDate'));
    const page =
      device.id === ''
        ? { rows: [], older: undefined }
        : auditPage(db, {
            type: query.event || undefined,
            userId: user.id,
            deviceId: device.id,
            severity: query.severity ? SEVERITY[query.severity] : undefined,
            since: validDate(query.from) ? `${query.from}T00:00:00.000Z` : undefined,
            until: validDate(query.to) ? nextDay(query.to) : undefined,
            before: query.before,
            limit: query.per_page,
          });
    const names = namesOf(db, t);
    const exact = new Intl.DateTimeFormat(locale, {
      dateStyle: 'medium',
      timeStyle: 'medium',
      timeZone: 'UTC',
    });
    const entries = page.rows.map(rowView(locale, t, names, clock.now(), exact));
    const filters = filterValues(query);
    const byName = (a: { label: string }, b: { label: string }) =>
      a.label.localeCompare(b.label, locale);
    const typeOption = (value: string) => ({ value, label: typeName(t, value) });
    const lastShown = entries[entries.length - 1]?.seq;
    return scope.adminPage(request, reply, 'admin-audit', 'auditTitle', 'audit', {
      query,
      entries,
      notes,
      auditTypes: CATALOGUE.types
        .filter((type) => !SYNC_TRAFFIC.includes(type))
        .map(typeOption)
        .sort(byName),
      syncTypes: SYNC_TRAFFIC.map(typeOption),
      severities: SEVERITIES.map((value) => ({
        value,
        label: t(SEVERITY_VIEW[SEVERITY[value]]!.key),
      })),
      perPages: PER_PAGES,
      filtered: Object.values(filters).some((v) => v !== ''),
      shown: t('auditShown', { count: String(entries.length) }),
      // A stretch of sync traffic ended short of a full page: say how far it looked.
      stretch:
        page.older !== undefined && page.older !== lastShown
          ? t('auditStretch', { seq: String(page.older) })
          : '',
      older:
        page.older !== undefined ? pageUrl('/admin/audit', { ...filters, before: page.older }) : '',
      newest: query.before !== undefined ? pageUrl('/admin/audit', filters) : '',
    });
  });
}
