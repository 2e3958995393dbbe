import { listUsers } from '../projections/users.js';
import { withRuntime } from './data-dir.js';
import { formatTable, printJsonLine, printOut } from './output.js';

export async function userList(opts: { data?: string; json?: boolean }): Promise<void> {
  // Only the columns an operator needs: the password hash never leaves the database.
  const users = await withRuntime(opts, (runtime) =>
    listUsers(runtime.db).map((u) => ({
      id: u.id,
      username: u.username,
      email: u.email,
      confirmed: u.confirmed === 1,
      blocked: u.blocked === 1,
      created_at: u.created_at,
    })),
  );
  if (opts.json) {
    for (const u of users) printJsonLine(u);
    return;
  }
  const yesNo = (b: boolean) => (b ? 'yes' : 'no');
  printOut(
    formatTable(
      ['ID', 'USERNAME', 'EMAIL', 'CONFIRMED', 'BLOCKED', 'CREATED_AT'],
      users.map((u) => [
        u.id,
        u.username,
        u.email,
        yesNo(u.confirmed),
        yesNo(u.blocked),
        u.created_at,
      ]),
    ),
  );
}
