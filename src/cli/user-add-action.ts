import { AppError } from '../errors.js';
import { withRuntime } from './data-dir.js';
import { readSecretFile, readSecretStdin } from './options.js';
import { printErr, printJsonLine, printOut, text } from './output.js';

interface UserAddOptions {
  data?: string;
  username: string;
  email: string;
  passwordStdin?: boolean;
  passwordFile?: string;
  confirmed?: boolean;
  json?: boolean;
}

// The service reports password rules as codes the web forms translate.
const PASSWORD_RULES: Record<string, string> = {
  PASSWORD_TOO_SHORT: 'must be at least 8 bytes',
  PASSWORD_TOO_LONG: 'must be at most 256 bytes',
};

async function readPassword(opts: UserAddOptions): Promise<string> {
  if (opts.passwordStdin && opts.passwordFile) {
    throw new Error('give only one of --password-stdin and --password-file');
  }
  if (opts.passwordFile) return readSecretFile(opts.passwordFile);
  if (opts.passwordStdin) {
    if (process.stdin.isTTY) printErr('password (end with Ctrl-D): ');
    return readSecretStdin();
  }
  throw new Error(
    'user add needs --password-stdin or --password-file (never a password on the command line)',
  );
}

export async function userAdd(opts: UserAddOptions): Promise<void> {
  const password = await readPassword(opts);
  const userId = await withRuntime(opts, async (runtime) => {
    try {
      return await runtime.users.register(
        {
          username: opts.username,
          email: opts.email,
          password,
          confirmed: opts.confirmed ?? false,
        },
        'operator',
        { actor: 'cli' },
      );
    } catch (err) {
      if (err instanceof AppError) {
        let message = err.message;
        for (const [code, rule] of Object.entries(PASSWORD_RULES))
          message = message.replace(code, rule);
        throw new Error(`cannot add user ${opts.username}: ${message}`, { cause: err });
      }
      throw err;
    }
  });
  if (opts.json) printJsonLine({ user_id: userId });
  else printOut(text`added user ${opts.username} (id ${userId})\n`);
}
