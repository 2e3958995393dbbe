import type { DevicesTable } from './devices.js';
import type { SettingsTable } from './settings.js';
import type { UsersTable } from './users.js';
import type { PushAnswersTable, TombstonesTable, VaultOpsTable, VaultsTable } from './vaults.js';

/** Every projection table, for kysely's typing. */
export interface Database {
  users: UsersTable;
  devices: DevicesTable;
  vaults: VaultsTable;
  vault_ops: VaultOpsTable;
  tombstones: TombstonesTable;
  push_answers: PushAnswersTable;
  settings: SettingsTable;
}
