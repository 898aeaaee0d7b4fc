/** A refusal or a failure, as the daemon worded it, with its hint. */
import { RpcCallError } from "../api.ts";
import { Icon } from "./Icon.tsx";

export function ErrorNote({ error, title }: { error: unknown; title?: string }) {
  if (!error) return null;
  const plain = typeof error === "object" ? (error as { message?: unknown; hint?: unknown }) : {};
  const message = typeof plain.message === "string" ? plain.message : String(error);
  const hint =
    error instanceof RpcCallError ? error.hint : typeof plain.hint === "string" ? plain.hint : undefined;
  const retryAfter =
    error instanceof RpcCallError && error.is("rateLimited")
      ? (error.data as { retryAfterSeconds?: number } | undefined)?.retryAfterSeconds
      : undefined;
  return (
    <div className="note note-bad" role="alert">
      <Icon name="alert" />
      <div>
        {title && <strong>{title}</strong>}
        <p className="note-text">{message}</p>
        {hint && <p className="note-hint">{hint}</p>}
        {retryAfter !== undefined && <p className="note-hint">Try again in {retryAfter} s.</p>}
      </div>
    </div>
  );
}
