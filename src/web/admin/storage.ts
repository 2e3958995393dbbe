import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { CleanupReport } from '../../commands/cleanup-service.js';
import type { Locale } from '../../http/locale.js';
import type { EventOfType, RecordedEvent } from '../../log/index.js';
import { findLastCleanup } from '../../projections/admin-stats.js';
import { countStalePushAnswers } from '../../projections/vault-queries.js';
import { field } from '../forms.js';
import { formatDate, formatRelative, formatSize } from '../format.js';
import { translator, type Translate } from '../i18n/index.js';
import type { WebDeps } from '../index.js';
import { localeOf } from '../page.js';
import type { AdminScope } from './inventory.js';
import { serverFigures } from './server-figures.js';

// CONTRACT.md §9 /admin/storage and §11 `cleanup`: what the data takes, what retention
// would remove (a dry run, which changes nothing), and the cleanup itself, re-authenticated.

const HOUR = 3_600_000;

const StorageQuery = z.object({ check: field, flash: field, nothing: field });

type CleanupEvent = RecordedEvent<EventOfType<'CleanupRan'>>;

const numberIn = (locale: Locale) => (n: number) => new Intl.NumberFormat(locale).format(n);

/** "3 (1.2 MB)": a file count with what the files took. */
const filesOf = (t: Translate, locale: Locale, count: number, bytes: number) =>
  t('adminStorageFilesAndBytes', {
    count: numberIn(locale)(count),
    size: formatSize(locale, bytes),
  });

/** The removable things of a plan or a past run, in one order for both. */
function removedRows(
  t: Translate,
  locale: Locale,
  r: Pick<CleanupReport, 'sessions' | 'emailTokens' | 'pushAnswers' | 'tempUploads' | 'blobFiles'>,
) {
  const n = numberIn(locale);
  return [
    { key: 'sessions', label: t('adminStorageRowSessions'), value: n(r.sessions) },
    { key: 'email-tokens', label: t('adminStorageRowTokens'), value: n(r.emailTokens) },
    { key: 'push-answers', label: t('adminStorageRowAnswers'), value: n(r.pushAnswers) },
    {
      key: 'temp-uploads',
      label: t('adminStorageRowTemp'),
      value: filesOf(t, locale, r.tempUploads.count, r.tempUploads.bytes),
    },
    {
      key: 'blob-files',
      label: t('adminStorageRowBlobFiles'),
      value: filesOf(t, locale, r.blobFiles.count, r.blobFiles.bytes),
    },
  ];
}

const reportOf = (e: CleanupEvent) => ({
  sessions: e.data.sessions,
  emailTokens: e.data.emailTokens,
  pushAnswers: e.data.pushAnswers,
  tempUploads: { count: e.data.tempUploads, bytes: e.data.tempUploadBytes },
  blobFiles: { count: e.data.blobFiles, bytes: e.data.blobFileBytes },
});

const isEmpty = (r: ReturnType<typeof reportOf>) =>
  r.sessions + r.emailTokens + r.pushAnswers + r.tempUploads.count + r.blobFiles.count === 0;

export function storageRoutes(
  app: FastifyInstance,
  deps: WebDeps,
  { signedIn, adminPage, actions }: AdminScope,
) {
  const { db, clock, store, config, dataDir } = deps;

  const lastCleanup = (): CleanupEvent | undefined => {
    const found = findLastCleanup(db);
    const row = found && store.readRows(found.seq - 1, 1)[0];
    const event = row && store.decode(row);
    return event?.type === 'CleanupRan' ? event : undefined;
  };

  const byWhom = (t: Translate, actor: string) =>
    actor === 'system' ? t('adminStorageBySystem') : actor.replace(/^admin:/, '');

  app.get('/admin/storage', signedIn, async (request, reply) => {
    const query = StorageQuery.parse(request.query ?? {});
    const locale = localeOf(request, deps);
    const t = translator(locale);
    const n = numberIn(locale);
    const now = clock.now();
    const { stats, disk } = await serverFigures({ db, dataDir }, now);
    const retention = config.retention;
    const answersBefore = new Date(now.getTime() - retention.idempotency_hours * HOUR);
    const last = lastCleanup();
    const plan = query.check ? await deps.cleanup.plan(now) : undefined;
    const flash =
      query.flash === 'cleanup_done'
        ? t(query.nothing ? 'adminStorageDoneNothing' : 'adminStorageDone')
        : '';
    return adminPage(request, reply, 'admin-storage', 'adminStorageTitle', 'storage', {
      flashText: flash,
      files: {
        count: n(stats.blobs),
        bytes: formatSize(locale, stats.blobBytes),
        referenced: n(stats.blobs - stats.orphanBlobs),
        unreferenced: n(stats.orphanBlobs),
        references: n(stats.blobReferences),
      },
      temp: {
        count: n(disk.tempUploads),
        bytes: formatSize(locale, disk.tempUploadBytes),
        hint: t('adminStorageTempHint', { hours: n(retention.temp_upload_hours) }),
      },
      expired: {
        sessions: n(stats.expiredSessions),
        tokens: n(stats.expiredEmailTokens),
        answers: n(countStalePushAnswers(db, answersBefore.toISOString())),
        answersLabel: t('adminStorageOldAnswers', { hours: n(retention.idempotency_hours) }),
      },
      last: last && {
        at: last.at,
        when: `${formatDate(locale, last.at)} (${formatRelative(locale, last.at, now)})`,
        by: byWhom(t, last.meta.actor),
        rows: removedRows(t, locale, reportOf(last)),
      },
      lead: t('adminStorageCleanupLead', { hours: n(retention.temp_upload_hours) }),
      plan: plan && {
        nothing: isEmpty(plan),
        rows: removedRows(t, locale, plan),
      },
    });
  });

  actions.set('cleanup', {
    reauth: true,
    run: async ({ reply, meta }) => {
      const report = await deps.cleanup.run(clock.now(), meta);
      const nothing = report.seq === undefined ? '&nothing=1' : '';
      return reply.redirect(`/admin/storage?flash=cleanup_done${nothing}`, 303);
    },
  });
}
