/**
 * The handlers of the image registries' credentials (docs/images.md): the node pulls an app's
 * images with the credentials stored for their registry. Passwords go in and never come out: lists
 * show hosts and user names only. Their schemas are in contract.ts.
 */
import { RegistryCredentialsError } from "../orchestrator/registry-credentials.ts";
import type { ApiContext, ApiHandlers } from "./context.ts";
import { RPC_CODES, RpcError } from "./rpc/errors.ts";

/** A refused host or user name, as every invalid param: `data.issues` names the field. */
function invalid(error: RegistryCredentialsError): RpcError {
  const [field, ...problem] = error.message.split(": ");
  return new RpcError(RPC_CODES.invalidParams, error.message, {
    issues: [{ field, problem: problem.join(": ") }],
  });
}

function list(ctx: ApiContext): Array<{ host: string; username: string }> {
  const registries = ctx.orchestrator.registries;
  return registries.hosts().flatMap((host) => {
    const username = registries.usernameOf(host);
    return username === undefined ? [] : [{ host, username }];
  });
}

export const REGISTRY_HANDLERS: ApiHandlers<"registry.list" | "registry.login" | "registry.logout"> = {
  "registry.list": (_params, ctx) => list(ctx),
  "registry.login": async ({ host, username, password }, ctx) => {
    try {
      await ctx.orchestrator.registries.set(host, username, password);
    } catch (error) {
      if (error instanceof RegistryCredentialsError) throw invalid(error);
      throw error;
    }
    return list(ctx);
  },
  "registry.logout": async ({ host }, ctx) => {
    let removed: boolean;
    try {
      removed = await ctx.orchestrator.registries.remove(host);
    } catch (error) {
      if (error instanceof RegistryCredentialsError) throw invalid(error);
      throw error;
    }
    if (!removed)
      throw new RpcError(
        RPC_CODES.notFound,
        `no credentials for ${host}: see registry.list (archy registry ls)`,
      );
    return list(ctx);
  },
};
