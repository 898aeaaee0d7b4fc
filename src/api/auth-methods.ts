/**
 * The handlers of the operator's authentication (docs/api.md#authentication): first-run setup,
 * login and logout, the session's CSRF token, changing the password, revoking every session, and a
 * new CLI token. Their schemas are in contract.ts.
 */
import type { Session } from "./auth.ts";
import type { ApiContext, ApiHandlers } from "./context.ts";
import type { HandlerResult } from "./contract.ts";
import { RPC_CODES, RpcError } from "./rpc/errors.ts";

/** Hands the new session to the transport (its cookies) and answers with what the client keeps. */
function loggedIn(ctx: ApiContext, session: Session): HandlerResult<"auth.login"> {
  ctx.call.setSession(session);
  return { csrfToken: session.csrfToken, expiresAt: session.expiresAt };
}

const caller = (ctx: ApiContext) => ({ address: ctx.call.client, deviceCookie: ctx.call.deviceCookie });

export const AUTH_HANDLERS: ApiHandlers<
  | "auth.setup"
  | "auth.login"
  | "auth.session"
  | "auth.logout"
  | "auth.changePassword"
  | "auth.logoutAll"
  | "auth.rotateCliToken"
> = {
  "auth.setup": async ({ password }, ctx) => loggedIn(ctx, await ctx.auth.setup(password)),
  "auth.login": async ({ password }, ctx) => {
    const session = await ctx.auth.login(password, caller(ctx));
    // Always a fresh session (never the one the request carried), and that one ends.
    ctx.auth.logout(ctx.call.sessionToken);
    return loggedIn(ctx, session);
  },
  "auth.session": (_params, ctx) => {
    const session = ctx.auth.session(ctx.call.sessionToken);
    if (!session)
      throw new RpcError(
        RPC_CODES.notFound,
        "no session: the CLI token authenticates every call without one (log in with auth.login for a session)",
      );
    return { csrfToken: session.csrfToken, expiresAt: session.expiresAt };
  },
  "auth.logout": (_params, ctx) => {
    ctx.auth.logout(ctx.call.sessionToken);
    ctx.call.setSession(undefined);
    return { ok: true as const };
  },
  "auth.changePassword": async ({ oldPassword, newPassword }, ctx) =>
    loggedIn(
      ctx,
      await ctx.auth.changePassword(oldPassword, newPassword, {
        ...caller(ctx),
        cliToken: ctx.call.cliToken,
      }),
    ),
  "auth.logoutAll": (_params, ctx) => {
    const revoked = ctx.auth.logoutAll();
    ctx.call.setSession(undefined);
    return { revoked };
  },
  "auth.rotateCliToken": async (_params, ctx) => {
    await ctx.auth.rotateCliToken();
    return { ok: true as const };
  },
};
