/**
 * What the parts of one conversion share: the project, the report being written, and what the
 * app accumulates across its containers (permissions, generated secrets, app volumes). Pure.
 */
import type { PathSegment } from "../manifest/issues.ts";
import type { Project, ProjectService } from "./project.ts";
import type { Level, ReportLine } from "./report.ts";
import { APP_DATA_MARKER, MARKER } from "./variables.ts";

export type PermissionRequest =
  | { kind: "host-path"; path: string; reason: string }
  | { kind: "device"; path: string; reason: string }
  | { kind: "low-port"; port: number; reason: string }
  | { kind: "capability"; capability: string; reason: string };

export class Conversion {
  readonly appId: string;
  readonly project: Project;
  readonly lines: ReportLine[] = [];
  readonly permissions = new Map<string, PermissionRequest>();
  readonly secrets = new Map<string, { type: "alphanumeric"; length: number }>();
  /** App volumes by what they hold (`data:config`, `named:db`), and the names taken. */
  readonly volumes = new Map<string, string>();
  readonly adoptVolumes = new Map<string, string>();
  /** The variable each generated secret's marker stands for (`db-password` → `DB_PASSWORD`). */
  readonly secretVariables = new Map<string, string>();

  constructor(appId: string, project: Project) {
    this.appId = appId;
    this.project = project;
  }

  /** A report line about a field of a service (or of the file, without a service). */
  note(
    level: Level,
    service: ProjectService | undefined,
    sub: PathSegment[],
    message: string,
    action?: string,
  ): void {
    const place = service
      ? this.project.placeService(service, sub)
      : this.project.place({ file: this.project.file, path: [] }, sub);
    const subject = [
      service ? `services.${service.name}` : "",
      ...sub.map((s) => (typeof s === "number" ? `[${s}]` : s)),
    ]
      .filter((s) => s !== "")
      .join(".")
      .replace(/\.\[/g, "[");
    this.lines.push({
      level,
      ...place,
      subject: subject || "(file)",
      message,
      ...(action ? { action } : {}),
    });
  }

  /** A name for a permission, unique in the app: `prefix`, else `prefix-2`, … */
  permissionName(prefix: string, request: PermissionRequest): string {
    for (const [name, existing] of this.permissions)
      if (JSON.stringify({ ...existing, reason: "" }) === JSON.stringify({ ...request, reason: "" }))
        return name;
    let name = prefix;
    for (let n = 2; this.permissions.has(name); n++) name = `${prefix}-${n}`;
    this.permissions.set(name, request);
    return name;
  }

  /** Text with the platform's markers written back as the variables the compose file used. */
  restore(text: string): string {
    return text.replace(MARKER, (marker) => {
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the compose file's own syntax, written back
      if (marker === APP_DATA_MARKER) return "${APP_DATA_DIR}";
      const secret = marker.slice(1, -1).replace(/^secret:/, "");
      return `\${${this.secretVariables.get(secret) ?? secret}}`;
    });
  }
}

/** A DNS label made of any name (`My_App.2` → `my-app-2`), starting with a letter. */
export function toLabel(name: string, prefix = "x"): string {
  const label = name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 63)
    .replace(/-+$/, "");
  if (label === "") return prefix;
  return /^[a-z]/.test(label) ? label : `${prefix}-${label}`.slice(0, 63).replace(/-+$/, "");
}
