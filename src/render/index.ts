/**
 * Renders a manifest for one execution backend: Quadlet units, libpod create bodies (plain
 * Podman) or Kubernetes objects. Pure and deterministic: the same manifest and context always give
 * byte-identical files, and no secret value is ever part of them.
 */
import type { Manifest } from "../manifest/schema.ts";
import { type KubeWarning, renderKube, renderKubeWithWarnings } from "./kube.ts";
import type { RenderContext, RenderedFile } from "./model.ts";
import { renderPodman } from "./podman-spec.ts";
import { renderQuadlet } from "./quadlet.ts";

export type { RenderContext, RenderedFile } from "./model.ts";
export { RenderError } from "./model.ts";

export const RENDER_TARGETS = ["quadlet", "podman", "kube"] as const;
export type RenderTarget = (typeof RENDER_TARGETS)[number];

/**
 * The files of `manifest` for `target`, and what that target does not keep of the manifest (only
 * Kubernetes loses anything: see kube.ts), for the user to read before applying them.
 */
export function renderWithWarnings(
  manifest: Manifest,
  target: RenderTarget,
  ctx: RenderContext,
): { files: RenderedFile[]; warnings: KubeWarning[] } {
  if (target === "kube") return renderKubeWithWarnings(manifest, ctx);
  return { files: render(manifest, target, ctx), warnings: [] };
}

/** The files of `manifest` for `target`, in the order they are to be applied. */
export function render(manifest: Manifest, target: RenderTarget, ctx: RenderContext): RenderedFile[] {
  switch (target) {
    case "quadlet":
      return renderQuadlet(manifest, ctx);
    case "podman":
      return renderPodman(manifest, ctx);
    case "kube":
      return renderKube(manifest, ctx);
  }
}

export {
  KUBE_WARNINGS_ANNOTATION,
  type KubeOptions,
  type KubeWarning,
  kubeName,
  kubeSecretName,
  renderKube,
} from "./kube.ts";
export { type ContainerCreateBody, type PodmanPlan, podmanPlan } from "./podman-spec.ts";
export { renderQuadlet } from "./quadlet.ts";
export { specHash } from "./spec-hash.ts";
