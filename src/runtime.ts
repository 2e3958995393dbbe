import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createFileBlobStore } from './blobs/blob-store.js';
import { createFileSweep } from './blobs/file-sweep.js';
import { createBus, type Bus } from './bus.js';
import { systemClock, type Clock } from './clock.js';
import { createAccountService, type AccountService } from './commands/account-service.js';
import { createBlobService, type BlobService } from './commands/blob-service.js';
import { createCleanup, type Cleanup } from './commands/cleanup-service.js';
import { createCommandHandler, type CommandHandler } from './commands/handle.js';
import { createDeviceService, type DeviceService } from './commands/device-service.js';
import {
  createPasswordResetService,
  type PasswordResetService,
} from './commands/password-reset-service.js';
import {
  createAdminSessionService,
  type AdminSessionService,
} from './commands/admin-session-service.js';
import { createSessionService, type SessionService } from './commands/session-service.js';
import { createRefusalCounter, type RefusalCounter } from './commands/refusals-service.js';
import { createSettingsService, type SettingsService } from './commands/settings-service.js';
import { createSyncService, type SyncService } from './commands/sync-service.js';
import { createUserService, type UserService } from './commands/user-service.js';
import { loadConfig, publicUrlOf, type Config } from './config.js';
import { randomIds, type Ids } from './ids.js';
import {
  CATALOGUE,
  createEventStore,
  migrateLog,
  openDatabase,
  startCheckpointer,
  type Checkpointer,
  type CheckpointerOptions,
  type EventStore,
  type Sqlite,
} from './log/index.js';
import { createAnchorKeeper, guardAppends } from './log/anchor-keeper.js';
import { anchorKeySourceOf } from './log/anchor-key.js';
import { MAIL_PARAMS_PURPOSE, migrateOutbox } from './mail/outbox.js';
import { findBlobReference } from './projections/blobs.js';
import {
  configuredWebSettings,
  publicUrlOf as settingsPublicUrl,
  webSettingsOf,
  type WebSettings,
} from './projections/settings.js';
import { createDeviceActivity, type DeviceActivity } from './projections/device-activity.js';
import {
  createProjector,
  PROJECTIONS,
  type Progress,
  type Projector,
} from './projections/index.js';
import { createRateLimitLog, type RateLimitLog } from './security/rate-limit-log.js';
import { createPasswordBudget, type PasswordBudget } from './security/password-budget.js';
import { createPasswordHasher, type PasswordHasher } from './security/passwords.js';
import { createSecretBox, secretKeyFileOf, type SecretBox } from './security/secret-box.js';
import { createTypedDigest, TYPED_NAME_KEY_PURPOSE } from './security/typed-digest.js';

export interface Runtime {
  readonly dataDir: string;
  readonly blobDir: string;
  readonly config: Config;
  readonly db: Sqlite;
  readonly store: EventStore;
  readonly projector: Projector;
  readonly handle: CommandHandler['handle'];
  readonly enqueue: CommandHandler['enqueue'];
  readonly bus: Bus;
  readonly clock: Clock;
  readonly ids: Ids;
  readonly hasher: PasswordHasher;
  readonly users: UserService;
  readonly accounts: AccountService;
  readonly passwordResets: PasswordResetService;
  readonly sessions: SessionService;
  /** The web console's admin sessions (admins themselves live in config.yml). */
  readonly adminSessions: AdminSessionService;
  /**
   * Refused sign-ins, device authentications and rate-limited requests, counted per window
   * and appended as one summary per kind and window (serve flushes it on a timer).
   */
  readonly refusals: RefusalCounter;
  /** Failed password checks per account, in the database (survives a restart). */
  readonly passwordBudget: PasswordBudget;
  /** Rate-limit refusals and lockouts, logged as one summary per interval by the app. */
  readonly rateLimitLog: RateLimitLog;
  /** The base of links in mails. */
  readonly publicUrl: () => string;
  /**
   * The public URL an operator set (settings, else config.yml), '' when none: what the
   * pages' origin checks and Secure cookies follow, with no listen-address fallback.
   */
  readonly configuredPublicUrl: () => string;
  /**
   * The address the server actually listens on (serve, once listening): without a public
   * URL, mail links point there rather than at the default port.
   */
  useListenAddress(address: string): void;
  /** Default locale, registration, server name: the admin's latest, else config.yml. */
  readonly webSettings: () => WebSettings;
  readonly devices: DeviceService;
  readonly activity: DeviceActivity;
  readonly sync: SyncService;
  readonly blobs: BlobService;
  readonly settings: SettingsService;
  /** Encrypts secrets kept for a while (SMTP password, a password shown once to an admin). */
  readonly secrets: SecretBox;
  /** Retention: expired rows, stale uploads and content files the log does not know. */
  readonly cleanup: Cleanup;
  /** The WAL checkpoint worker, when the runtime was opened with one (the server). */
  readonly checkpointer?: Checkpointer;
  close(): void;
}

export interface RuntimeOptions {
  readonly dataDir: string;
  /** Defaults to <dataDir>/server.db; tests may pass ':memory:'. */
  readonly databaseFile?: string;
  readonly config?: Config;
  readonly clock?: Clock;
  readonly ids?: Ids;
  readonly hasher?: PasswordHasher;
  /** Reports long projection rebuilds at start-up. */
  readonly onRebuildProgress?: Progress;
  /**
   * Checkpoints the WAL on a worker thread instead of inside commits (the server, whose
   * event loop commits); CLI commands leave it out and checkpoint as SQLite does by default.
   */
  readonly checkpointer?: CheckpointerOptions;
}

export const databaseFileOf = (dataDir: string) => join(dataDir, 'server.db');

/** The composition root shared by the server and every CLI command. */
export function openRuntime(options: RuntimeOptions): Runtime {
  const { dataDir } = options;
  const blobDir = join(dataDir, 'blobs');
  mkdirSync(blobDir, { recursive: true, mode: 0o700 });
  mkdirSync(join(dataDir, 'tmp'), { recursive: true, mode: 0o700 });
  const config = options.config ?? loadConfig(dataDir);
  const clock = options.clock ?? systemClock;
  const ids = options.ids ?? randomIds;
  const hasher = options.hasher ?? createPasswordHasher();
  const db = openDatabase(options.databaseFile ?? databaseFileOf(dataDir));
  migrateLog(db, () => ids.epoch());
  migrateOutbox(db);
  // Every append of this process behind the log's anchor (log/anchor-keeper.ts); the server is
  // the runtime with a checkpointer.
  const anchor =
    db.memory || db.readonly
      ? undefined
      : createAnchorKeeper({
          db,
          dataDir,
          keySource: anchorKeySourceOf(dataDir, process.env),
          server: options.checkpointer !== undefined,
          caughtUp: () => checkpointer?.stats().caughtUp ?? 0,
        });
  const store = anchor
    ? guardAppends(createEventStore(db, CATALOGUE), anchor)
    : createEventStore(db, CATALOGUE);
  const projector = createProjector(db, store, PROJECTIONS);
  projector.catchUp(options.onRebuildProgress);
  const bus = createBus();
  const { handle, enqueue } = createCommandHandler({ db, store, projector, bus, clock });
  const users = createUserService({ db, handle, hasher, ids, clock });
  // Keys what was typed and matched no account; first called at a request, once `secrets`
  // below exists.
  const digestTyped = createTypedDigest(() => secrets.deriveKey(TYPED_NAME_KEY_PURPOSE));
  const refusals = createRefusalCounter({ handle, clock, digestTyped });
  const rateLimitLog = createRateLimitLog();
  const budget = createPasswordBudget({
    db,
    clock,
    digestTyped,
    onRefused: (r) => {
      rateLimitLog.refused(r);
      const reason = `${r.action}/account`;
      refusals.record({ kind: 'rate_limit', reason, ip: r.ip, userId: r.userId, typed: r.account });
    },
    onLockout: (r) => rateLimitLog.lockout(r),
  });
  const devices = createDeviceService({ db, handle, hasher, ids, clock, budget });
  // The settings (flags, CLI, admin console) win; config.yml is the fallback. Never the Host header.
  let listening: string | undefined;
  const publicUrl = () =>
    settingsPublicUrl(db) || publicUrlOf({ ...config, listen: listening ?? config.listen });
  const configuredPublicUrl = () => settingsPublicUrl(db) || config.public_url.trim();
  // A systemd credential key is read-only; only the data-dir key is created on first use.
  const secrets = createSecretBox(secretKeyFileOf(dataDir, process.env), {
    createKey: !process.env.CREDENTIALS_DIRECTORY && (anchor?.mayCreateKey ?? true),
  });
  const sealMail = (plain: string) => secrets.encrypt(plain, MAIL_PARAMS_PURPOSE);
  const accountDeps = { db, handle, hasher, ids, clock, publicUrl, sealMail, digestTyped };
  const accounts = createAccountService(accountDeps);
  const passwordResets = createPasswordResetService(accountDeps);
  const sessions = createSessionService({ db, handle, hasher, ids, clock, refusals, budget });
  const adminSessions = createAdminSessionService({
    db,
    handle,
    hasher,
    ids,
    clock,
    admins: () => config.admin,
    refusals,
    budget,
  });
  const activity = createDeviceActivity(db);
  const blobs = createBlobService({
    db,
    handle,
    store: createFileBlobStore(dataDir),
    limits: config.limits,
  });
  const sync = createSyncService({
    db,
    store,
    enqueue,
    clock,
    config,
    findBlob: findBlobReference,
  });
  const settings = createSettingsService({
    db,
    handle,
    clock,
    secrets,
    configuredWeb: configuredWebSettings(config),
  });
  const webSettings = () => webSettingsOf(db, config);
  const sweep = createFileSweep(dataDir);
  const cleanup = createCleanup({ db, handle, sweep, retention: config.retention });
  // Started last: nothing above may fail and leave a worker behind.
  const checkpointer = options.checkpointer && startCheckpointer(db, options.checkpointer);
  try {
    anchor?.start();
  } catch (err) {
    checkpointer?.stop();
    db.close();
    throw new Error(`cannot anchor the log of ${dataDir}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  return {
    dataDir,
    blobDir,
    config,
    db,
    store,
    projector,
    handle,
    enqueue,
    bus,
    clock,
    ids,
    hasher,
    users,
    accounts,
    passwordResets,
    sessions,
    adminSessions,
    refusals,
    passwordBudget: budget,
    rateLimitLog,
    publicUrl,
    configuredPublicUrl,
    useListenAddress: (address: string) => {
      listening = address;
    },
    webSettings,
    devices,
    activity,
    sync,
    blobs,
    settings,
    secrets,
    cleanup,
    checkpointer,
    close() {
      // The open windows' refusals too: a restart must not lose what an attacker did.
      if (db.open && !db.readonly) refusals.flushAll();
      bus.all.clear();
      // Before the final checkpoint, which must find no other connection working on the WAL.
      checkpointer?.stop();
      if (db.open) {
        // A final checkpoint leaves a small WAL behind after a clean stop.
        if (!db.readonly && db.name !== ':memory:') db.pragma('wal_checkpoint(TRUNCATE)');
        // After it: the closing anchor names the head only once it is in server.db.
        anchor?.close();
        db.close();
      }
    },
  };
}
