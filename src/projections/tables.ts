import type { BlobRefsTable, BlobsTable } from './blobs.js';
import type { DevicesTable } from './devices.js';
import type { EmailTokensTable } from './email-tokens.js';
import type { AdminSessionsTable, SessionsTable } from './sessions.js';
import type { SettingsTable } from './settings.js';
import type { PathMovesTable, SupersededOpsTable } from './supersession.js';
import type { UsersTable } from './users.js';
import type {
  EntityHeadsTable,
  PushAnswersTable,
  TombstonesTable,
  VaultOpsTable,
  VaultsTable,
} from './vaults.js';

/** Every projection table, for kysely's typing. */
export interface Database {
  users: UsersTable;
  email_tokens: EmailTokensTable;
  sessions: SessionsTable;
  admin_sessions: AdminSessionsTable;
  devices: DevicesTable;
  vaults: VaultsTable;
  vault_ops: VaultOpsTable;
  superseded_ops: SupersededOpsTable;
  path_moves: PathMovesTable;
  entity_heads: EntityHeadsTable;
  tombstones: TombstonesTable;
  push_answers: PushAnswersTable;
  blobs: BlobsTable;
  blob_refs: BlobRefsTable;
  settings: SettingsTable;
}
