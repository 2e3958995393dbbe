import type { Projection } from './projection.js';
import { auditIndexProjection } from './audit-index.js';
import { blobsProjection } from './blobs.js';
import { devicesProjection } from './devices.js';
import { emailTokensProjection } from './email-tokens.js';
import { adminSessionsProjection, sessionsProjection } from './sessions.js';
import { settingsProjection } from './settings.js';
import { usersProjection } from './users.js';
import { vaultsProjection } from './vaults.js';

export type { Projection } from './projection.js';
export * from './projector.js';

/** Every read model, in the order they are applied. */
export const PROJECTIONS: readonly Projection[] = [
  usersProjection,
  emailTokensProjection,
  sessionsProjection,
  adminSessionsProjection,
  devicesProjection,
  vaultsProjection,
  blobsProjection,
  settingsProjection,
  auditIndexProjection,
];
