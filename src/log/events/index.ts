import { createCatalogue, type EventDefinition, type EventOf } from '../catalogue.js';
import { ACCOUNT_EVENTS } from './account-events.js';
import { ADMIN_EVENTS } from './admin-events.js';
import { ADMIN_USER_EVENTS } from './admin-user-events.js';
import { BLOB_EVENTS } from './blob-events.js';
import { DEVICE_EVENTS } from './device-events.js';
import { RETENTION_EVENTS } from './retention-events.js';
import { SECURITY_EVENTS } from './security-events.js';
import { SETTINGS_EVENTS } from './settings-events.js';
import { USER_EVENTS } from './user-events.js';
import { VAULT_EVENTS } from './vault-events.js';

export * from './account-events.js';
export * from './admin-events.js';
export * from './admin-user-events.js';
export * from './blob-events.js';
export * from './device-events.js';
export * from './retention-events.js';
export * from './security-events.js';
export * from './settings-events.js';
export * from './user-events.js';
export * from './vault-events.js';

const DEFINITIONS = [
  ...USER_EVENTS,
  ...ACCOUNT_EVENTS,
  ...DEVICE_EVENTS,
  ...VAULT_EVENTS,
  ...BLOB_EVENTS,
  ...SETTINGS_EVENTS,
  ...RETENTION_EVENTS,
  ...SECURITY_EVENTS,
  ...ADMIN_EVENTS,
  ...ADMIN_USER_EVENTS,
] as const;

type Distribute<D> = D extends EventDefinition ? EventOf<D> : never;

/**
 * How an event whose data a UserDeleted event erased reads back (its stored type is in
 * `data.type`). The catalogue does not know it, so it can never be appended; projections
 * and deciders ignore it, which is right because the UserDeleted event already undid
 * whatever the erased event had built.
 */
export interface EventRedacted {
  readonly type: 'EventRedacted';
  readonly data: { readonly by: number; readonly type: string };
}

/** Every event this server writes, in its current shape, or an erased one as it reads. */
export type DomainEvent = Distribute<(typeof DEFINITIONS)[number]> | EventRedacted;

export type EventType = DomainEvent['type'];

export type EventOfType<T extends EventType> = Extract<DomainEvent, { type: T }>;

export const CATALOGUE = createCatalogue(DEFINITIONS);
