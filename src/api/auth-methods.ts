/**
 * The API methods of the operator's authentication (docs/api.md#authentication): first-run setup,
 * login and logout, changing the password, revoking every session, and a new CLI token.
 */
import { z } from "zod";
import { MIN_PASSWORD_LENGTH, type Session } from "./auth.ts";
import type { ApiContext } from "./context.ts";
import { defineMethod, type MethodDefinition } from "./rpc/dispatch.ts";

const Password = z
  .string()
  .min(1)
  .max(1024)
  .meta({
    description: `The operator password (a new one needs at least ${MIN_PASSWORD_LENGTH} characters).`,
  });
const SessionResult = z.object({
  csrfToken: z.string().meta({ description: "Send it in the X-CSRF-Token header of state-changing calls." }),
  expiresAt: z.number().meta({ description: "When the session ends (unix ms)." }),
});

/** Hands the new session to the transport (its cookies) and answers with what the client keeps. */
function loggedIn(ctx: ApiContext, session: Session): z.input<typeof SessionResult> {
  ctx.call.setSession(session);
  return { csrfToken: session.csrfToken, expiresAt: session.expiresAt };
}

const caller = (ctx: ApiContext) => ({ address: ctx.call.client, deviceCookie: ctx.call.deviceCookie });

export const AUTH_METHODS: MethodDefinition<ApiContext>[] = [
  defineMethod({
    name: "auth.setup",
    summary: "Sets the operator password on first run and logs in (sets the session cookie).",
    access: "public",
    mutates: true,
    alone: true,
    params: z.strictObject({ password: Password }),
    result: SessionResult,
    handler: async ({ password }, ctx) => loggedIn(ctx, await ctx.auth.setup(password)),
  }),
  defineMethod({
    name: "auth.login",
    summary:
      "Logs in with the operator password: sets an HttpOnly session cookie and returns the CSRF token.",
    access: "public",
    mutates: true,
    alone: true,
    params: z.strictObject({ password: Password }),
    result: SessionResult,
    handler: async ({ password }, ctx) => {
      const session = await ctx.auth.login(password, caller(ctx));
      // Always a fresh session (never the one the request carried), and that one ends.
      ctx.auth.logout(ctx.call.sessionToken);
      return loggedIn(ctx, session);
    },
  }),
  defineMethod({
    name: "auth.logout",
    summary: "Ends the session: the cookie stops working at once.",
    access: "session",
    mutates: true,
    params: z.strictObject({}),
    result: z.object({ ok: z.literal(true) }),
    handler: (_params, ctx) => {
      ctx.auth.logout(ctx.call.sessionToken);
      ctx.call.setSession(undefined);
      return { ok: true as const };
    },
  }),
  defineMethod({
    name: "auth.changePassword",
    summary:
      "Replaces the operator password (the current one is required): every session is revoked, the caller's too, and the caller gets a new one (new cookie and CSRF token).",
    access: "session",
    mutates: true,
    alone: true,
    params: z.strictObject({ oldPassword: Password, newPassword: Password }),
    result: SessionResult,
    handler: async ({ oldPassword, newPassword }, ctx) =>
      loggedIn(
        ctx,
        await ctx.auth.changePassword(oldPassword, newPassword, {
          ...caller(ctx),
          cliToken: ctx.call.cliToken,
        }),
      ),
  }),
  defineMethod({
    name: "auth.logoutAll",
    summary: "Revokes every session, the caller's too (its cookie is cleared); the CLI token keeps working.",
    access: "session",
    mutates: true,
    params: z.strictObject({}),
    result: z.object({ revoked: z.number().meta({ description: "How many sessions ended." }) }),
    handler: (_params, ctx) => {
      const revoked = ctx.auth.logoutAll();
      ctx.call.setSession(undefined);
      return { revoked };
    },
  }),
  defineMethod({
    name: "auth.rotateCliToken",
    summary:
      "Writes a new CLI token into the daemon's token file; the previous token stops working at once (the daemon also does this at every start).",
    access: "session",
    mutates: true,
    params: z.strictObject({}),
    result: z.object({ ok: z.literal(true) }),
    handler: async (_params, ctx) => {
      await ctx.auth.rotateCliToken();
      return { ok: true as const };
    },
  }),
];
