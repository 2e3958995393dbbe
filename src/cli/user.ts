import { Command } from 'commander';
import { userAddCommand } from './user-add.js';
import { userBlockCommand, userUnblockCommand } from './user-block.js';
import { userDeleteCommand } from './user-delete.js';
import { userListCommand } from './user-list.js';

export const userCommand = new Command('user')
  .description('manage user accounts')
  .addCommand(userAddCommand)
  .addCommand(userBlockCommand)
  .addCommand(userUnblockCommand)
  .addCommand(userDeleteCommand)
  .addCommand(userListCommand);
