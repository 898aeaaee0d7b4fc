/**
 * How the API speaks of permissions: what a manifest requests (with its content and plain words),
 * whether the operator approved each, and the approvals a request carries (docs/manifest.md,
 * "Permissions").
 */
import { z } from "zod";

const PermissionRequestView = z.object({
  name: z.string().meta({ description: "The permission's name in the manifest." }),
  kind: z.enum(["host-path", "device", "low-port", "capability", "open-interface", "public-paths"]).meta({
    description:
      "A named permission of the manifest, or what an interface opens to everyone who reaches the node (`open-interface`: `auth: none`; `public-paths`), named `interface.<name>`.",
  }),
  content: z.string().meta({
    description:
      "What it grants, canonical (`host-path /srv/media`, `device /dev/ttyUSB0`, `low-port 53`, `capability NET_ADMIN`, `open-interface admin`, `public-paths ui /.well-known/`): an approval names it.",
  }),
  description: z.string().meta({ description: "The same in plain words." }),
  reason: z.string().meta({ description: "Why the app needs it, in its manifest's words." }),
});

export const RequestedPermissions = z.array(PermissionRequestView).meta({
  description: "The permissions the manifest requests: each needs the operator's approval.",
});

export const PermissionStatuses = z
  .array(
    PermissionRequestView.extend({
      approved: z.boolean().meta({
        description:
          "Whether the operator approved it with this content; an app is held stopped until all are.",
      }),
      approvedAt: z.number().nullable().meta({ description: "When (unix ms)." }),
      approvedBy: z.enum(["operator", "upgrade"]).nullable().meta({
        description:
          "`upgrade`: recorded when a daemon that asks for approvals first started over the app, installed before with it.",
      }),
    }),
  )
  .meta({ description: "The permissions its manifest requests, each with whether it is approved." });

/**
 * A permission's name (a DNS label, at most 63 characters), or `interface.<name>` for what an
 * interface opens to everyone (its name a DNS label too): at most 73 characters.
 */
export const PermissionName = z
  .string()
  .min(1)
  .max("interface.".length + 63)
  .meta({ description: "The permission's name, or `interface.<name>` for what an interface opens." });

export const Approvals = z
  .array(
    z.strictObject({
      name: PermissionName,
      content: z.string().min(1).max(4096).meta({
        description:
          "What it grants, as the API showed it (`content`): an approval of other content is refused, so a manifest that changed meanwhile is approved only once seen.",
      }),
    }),
  )
  .max(64);
