/**
 * Credentials for image registries (docs/images.md): the node pulls an app's images with the
 * credentials stored for their registry. Passwords go in and never come out: lists show hosts and
 * user names only.
 */
import { z } from "zod";
import { RegistryCredentialsError } from "../orchestrator/registry-credentials.ts";
import type { ApiContext } from "./methods.ts";
import { defineMethod, type MethodDefinition } from "./rpc/dispatch.ts";
import { RPC_CODES, RpcError } from "./rpc/errors.ts";

const RegistryView = z.object({
  host: z
    .string()
    .meta({ description: "As image references name it: `registry.example.org`, `127.0.0.1:5000`." }),
  username: z.string(),
});

/** A refused host or user name, as every invalid param: `data.issues` names the field. */
function invalid(error: RegistryCredentialsError): RpcError {
  const [field, ...problem] = error.message.split(": ");
  return new RpcError(RPC_CODES.invalidParams, error.message, {
    issues: [{ field, problem: problem.join(": ") }],
  });
}

function list(ctx: ApiContext): Array<z.infer<typeof RegistryView>> {
  const registries = ctx.orchestrator.registries;
  return registries.hosts().flatMap((host) => {
    const username = registries.usernameOf(host);
    return username === undefined ? [] : [{ host, username }];
  });
}

export const REGISTRY_METHODS: MethodDefinition<ApiContext>[] = [
  defineMethod({
    name: "registry.list",
    summary: "The registries the node has credentials for (hosts and user names; never passwords).",
    access: "session",
    mutates: false,
    params: z.strictObject({}),
    result: z.array(RegistryView),
    handler: (_params, ctx) => list(ctx),
  }),
  defineMethod({
    name: "registry.login",
    summary:
      "Stores the credentials the node pulls images from a registry with (replacing earlier ones); the password is kept like an app secret and masked in every log.",
    access: "session",
    mutates: true,
    params: z.strictObject({
      host: z.string().min(1).max(255),
      username: z.string().min(1).max(255),
      password: z.string().min(1).max(4096),
    }),
    result: z.array(RegistryView),
    handler: async ({ host, username, password }, ctx) => {
      try {
        await ctx.orchestrator.registries.set(host, username, password);
      } catch (error) {
        if (error instanceof RegistryCredentialsError) throw invalid(error);
        throw error;
      }
      return list(ctx);
    },
  }),
  defineMethod({
    name: "registry.logout",
    summary: "Forgets the credentials for a registry.",
    access: "session",
    mutates: true,
    params: z.strictObject({ host: z.string().min(1).max(255) }),
    result: z.array(RegistryView),
    handler: async ({ host }, ctx) => {
      let removed: boolean;
      try {
        removed = await ctx.orchestrator.registries.remove(host);
      } catch (error) {
        if (error instanceof RegistryCredentialsError) throw invalid(error);
        throw error;
      }
      if (!removed) throw new RpcError(RPC_CODES.notFound, `no credentials for ${host}: see registry.list`);
      return list(ctx);
    },
  }),
];
