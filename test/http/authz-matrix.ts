// RELIABILITY.md S2: every registered route × every role, with the statuses allowed and
// whether the call may change state. authz-matrix.e2e.test.ts runs each cell against A's
// resources and fails when a registered route is missing here, or a row names no route.

export const ROLES = [
  'anonymous',
  'user',
  'userNoCsrf',
  'expiredSession',
  'otherUser',
  'device',
  'revokedDevice',
  'otherDevice',
  'admin',
  'adminNoCsrf',
] as const;

/**
 * - anonymous: a browser that loaded a page (it holds the public-form token), no session.
 * - user: A's browser after signing in (user_session, csrf_token, public-form token); it
 *   sends X-CSRF-Token on JSON calls and csrf_token + locale_csrf in forms.
 * - userNoCsrf: A's session cookie alone: no csrf_token or public-form token anywhere.
 * - expiredSession: A's browser whose session is 25 h old (CONTRACT.md §3.2: 24 h).
 * - otherUser: B's browser, signed in, aimed at A's resources.
 * - device, revokedDevice, otherDevice: `Authorization: Bearer` of a device of A, of a
 *   revoked device of A, of a device of B (same vault id as A's); no cookies.
 * - admin: a browser signed in at /admin/login (admin_session and its csrf_token, both
 *   Path=/admin, so that only the public-form token reaches the other pages).
 * - adminNoCsrf: the admin_session cookie alone.
 */
export type Role = (typeof ROLES)[number];

export interface Cell {
  readonly status: readonly number[];
  /**
   * False: the log head must not move. True: the call changes state, and the test checks
   * that it did (proof that the body was valid, so that a refusal elsewhere is authz).
   */
  readonly mayWrite: boolean;
}

export type Row = Readonly<Record<Role, Cell>>;

/** A refused or read-only call: one of these statuses, and no change. */
export const r = (...status: number[]): Cell => ({ status, mayWrite: false });
/** A permitted call that changes state, answering one of these statuses. */
export const w = (...status: number[]): Cell => ({ status, mayWrite: true });

type Cells = [Cell, Cell, Cell, Cell, Cell, Cell, Cell, Cell, Cell, Cell];

/** One cell per role, in the order of ROLES. */
const row = (...cells: Cells): Row =>
  Object.fromEntries(ROLES.map((role, i) => [role, cells[i]])) as unknown as Row;

const all = (cell: Cell) => row(cell, cell, cell, cell, cell, cell, cell, cell, cell, cell);

// Refusals: no device token (§3.1), no session (§3.2 sends to /login or /admin/login),
// CSRF (§3.2, §3.3).
const R401 = r(401);
const R302 = r(302);
const R403 = r(403);
const OK = r(200);
// Cross-tenant: 404, or the contract's 403 `device does not belong to you` (§4.5, §7).
const CROSS = r(403, 404);

/** Device-token routes: only a live device token opens them. */
const deviceOnly = (own: Cell, other: Cell) =>
  row(R401, R401, R401, R401, R401, own, R401, other, R401, R401);

/** Anonymous browser forms: the public-form token is the only thing checked (§3.3). */
const publicForm = (ok: Cell) => row(ok, ok, R403, ok, ok, R403, R403, R403, ok, R403);

/** Admin pages: only an admin session opens them; anyone else goes to /admin/login. */
const adminOnly = (admin: Cell, noCsrf: Cell = admin) =>
  row(R302, R302, R302, R302, R302, R302, R302, R302, admin, noCsrf);

/**
 * Keys are `METHOD url` as registered; `#variant` names a second request shape for the
 * same route. A GET row also covers the HEAD route fastify adds for it.
 */
// prettier-ignore
export const AUTHZ_MATRIX: Readonly<Record<string, Row>> = {
  // Public and operational pages: nothing to authorize.
  'GET /':                        all(OK),
  'GET /static/app.css':          all(OK),
  'GET /static/logo.svg':         all(OK),
  'GET /api/v1/health':           all(OK),
  'GET /readyz':                  all(OK),
  'GET /livez':                   all(OK),
  'GET /api/openapi.json':        all(OK),
  'GET /register':                all(OK),
  'GET /register/result':         all(OK),
  'GET /forgot':                  all(OK),
  'GET /forgot/sent':             all(OK),
  'GET /reset/done':              all(OK),
  'GET /confirm/result':          all(OK),
  // The mailed token is the credential (a valid one here); GET never consumes it.
  'GET /reset':                   all(OK),
  'GET /api/v1/auth/confirm':     all(OK),

  // Credentials (or a mailed token) in a JSON body: the caller's identity plays no part.
  'POST /api/client/pair':        all(w(200)),
  'POST /api/v1/device/register': all(w(200)),
  'POST /api/auth/test':          all(OK),
  'POST /api/v1/auth/register':   all(w(200)),
  'POST /api/v1/auth/login':      all(w(200)),
  'POST /api/v1/auth/forgot':     all(w(200)),
  'POST /api/v1/auth/reset':      all(w(200)),
  'POST /api/v1/auth/confirm':    all(w(200)),

  // Anonymous browser forms.
  'POST /api/v1/auth/confirm#form': publicForm(w(303)),
  'POST /login':                  publicForm(w(303)),
  'POST /register':               publicForm(w(303)),
  'POST /forgot':                 publicForm(w(303)),
  'POST /reset':                  publicForm(w(303)),
  'POST /locale':                 publicForm(r(303)),
  'POST /admin/login':            publicForm(w(303)),

  // Device API (§4). B's device reaches only B's own vault.
  'GET /api/client/me':              deviceOnly(OK, OK),
  'POST /api/client/revoke-device':  deviceOnly(w(200), CROSS),
  'POST /api/client/revoke-current': deviceOnly(w(200), w(200)),
  'POST /api/v1/sync/push':          deviceOnly(w(200), w(200)),
  'POST /api/v1/sync/pull':          deviceOnly(OK, OK),
  'GET /api/v1/sync/events':         deviceOnly(OK, OK),
  'POST /api/v1/blobs/':             deviceOnly(w(200), w(200)),
  'GET /api/v1/blobs/:sha256':       deviceOnly(OK, r(404)),

  // User session routes (§3.2, §7, §9). Neither a device token nor an admin session is a
  // user session: 302 to /login.
  //                                            anon  user    noCsrf  expired other   device revoked otherDev admin noCsrf
  'GET /login':                                 row(OK,   R302,   R302,   OK,     R302,   OK,    OK,     OK,      OK,   OK),
  'GET /api/v1/user/devices':                   row(R302, OK,     OK,     R302,   OK,     R302,  R302,   R302,    R302, R302),
  'POST /api/v1/user/devices/:id/revoke':       row(R302, w(200), R403,   R302,   CROSS,  R302,  R302,   R302,    R302, R302),
  'POST /api/v1/user/devices/:id/revoke#form':  row(R302, w(303), R403,   R302,   CROSS,  R302,  R302,   R302,    R302, R302),
  'GET /dashboard':                             row(R302, OK,     OK,     R302,   OK,     R302,  R302,   R302,    R302, R302),
  'POST /logout':                               row(R302, w(302), R403,   R302,   w(302), R302,  R302,   R302,    R302, R302),

  // Admin console (§3.2, §9, §11). A user session opens nothing here.
  'GET /admin':                   all(R302),
  //                                            anon  user    noCsrf  expired other   device revoked otherDev admin noCsrf
  'GET /admin/login':                           row(OK,   OK,     OK,     OK,     OK,     OK,    OK,     OK,      R302, R302),
  'POST /admin/logout':           adminOnly(w(303), R403),
  'GET /admin/dashboard':         adminOnly(OK),
  'GET /admin/users':             adminOnly(OK),
  'GET /admin/devices':           adminOnly(OK),
  'GET /admin/vaults':            adminOnly(OK),
  'GET /admin/vault/':            adminOnly(OK),
  'GET /admin/user/':             adminOnly(OK),
  'POST /admin/action':           adminOnly(w(303), R403),
  // User management (§9, §10, §11). No password is waiting for a fresh admin session: 410.
  'GET /admin/create-user':       adminOnly(OK),
  'POST /admin/create-user':      adminOnly(w(303), R403),
  'GET /admin/password-result':   adminOnly(OK),
  'POST /admin/password-result/secret': adminOnly(r(410), R403),
  'POST /admin/action#edit-user': adminOnly(w(303), R403),
  'POST /admin/action#reset-user-password': adminOnly(w(303), R403),
  'POST /admin/action#delete-user': adminOnly(w(303), R403),
  'GET /admin/api/users':         adminOnly(OK),
  'POST /admin/api/users/create': adminOnly(w(200), R403),
  'POST /admin/api/users/:id/block': adminOnly(w(200), R403),
  'POST /admin/api/users/:id/reset-password': adminOnly(w(200), R403),
  'POST /admin/api/users/:id/edit': adminOnly(w(200), R403),
  'DELETE /admin/api/users/:id':  adminOnly(w(200), R403),
  'POST /admin/api/users/:id/:action': adminOnly(r(404), R403),
  'GET /admin/settings':          adminOnly(OK),
  'GET /admin/audit':             adminOnly(OK),
  'POST /admin/action#web-settings': adminOnly(w(303), R403),
  'POST /admin/action#smtp':      adminOnly(w(303), R403),
  // Queued (SmtpTestRequested); no sender runs, so the page waits and says pending.
  'POST /admin/action#smtp-test': adminOnly(w(303), R403),
  'POST /admin/api/smtp':         adminOnly(w(302), R403),
  // Tests the settings given (a closed port here) and stores nothing.
  'POST /admin/api/smtp/test':    adminOnly(OK, R403),
  'POST /admin/action#revoke-device': adminOnly(w(303), R403),
  'POST /admin/action#delete-device': adminOnly(w(303), R403),
  'GET /admin/api/devices':       adminOnly(OK),
  'GET /admin/api/keys':          adminOnly(OK),
  'DELETE /admin/api/keys/:id':   adminOnly(w(200), R403),
  // Storage and diagnostics (§9, §10, §11). Each world leaves an expired session to clean up.
  'GET /admin/storage':           adminOnly(OK),
  'POST /admin/action#cleanup':   adminOnly(w(303), R403),
  'GET /admin/diagnostics':       adminOnly(OK),
  'GET /admin/diagnostics.json':  adminOnly(OK),
  'GET /admin/api/stats':         adminOnly(OK),
};
