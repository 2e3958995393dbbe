import { z } from 'zod';
import { WireTime } from './answers.js';

/** The account API's bodies and answers (CONTRACT.md §7), as the OpenAPI document shows them. */
const str = z.string().default('');

export const RegisterBody = z.object({
  username: str,
  email: str,
  password: str,
  locale: z.unknown().optional().describe('"en" or "ru": the language of the account’s mail'),
});
export const LoginBody = z.object({ username: str.describe('Username or e-mail'), password: str });
export const LoginAnswer = z
  .object({ token: z.string().describe('A user session token (Bearer)'), user_id: z.string() })
  .describe('Signed in');
export const ForgotBody = z.object({ email: str });
export const ResetBody = z.object({ token: str, new_password: str });
export const ConfirmBody = z.object({ token: str });

export const UserDevicesAnswer = z
  .array(
    z.object({
      id: z.string(),
      name: z.string(),
      vault_id: z.string(),
      client_version: z.string(),
      last_seen: WireTime,
      revoked_at: WireTime,
      created_at: WireTime,
    }),
  )
  .describe('The session user’s devices, newest first');
export const RevokeOwnDeviceBody = z.object({ password: str });
export const DeviceIdParams = z.object({ id: z.string() });
