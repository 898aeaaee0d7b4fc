/**
 * One operation as it happens: the images it pulls, a progress line each; its step log, line by line as the daemon writes it (each line once,
 * in order, the ones written before the page was opened included), and how it ended. Follows it
 * with the client's followOperation: the stream for what comes, the store for what was missed.
 */
import { useEffect, useRef, useState } from "react";
import { followOperation, type OperationLine, type OperationView } from "../../../src/client/operations.ts";
import { client, stream } from "../api.ts";
import { counted } from "../counted.ts";
import { KIND_WORDS } from "../kind-words.ts";
import { ErrorNote } from "./ErrorNote.tsx";
import { Icon } from "./Icon.tsx";
import { PullProgress } from "./PullProgress.tsx";

/** Lines kept per operation on the page: an endless log cannot grow the page without bound. */
const MAX_LINES = 1000;

export function useOperation(operationId: string | undefined) {
  const [lines, setLines] = useState<OperationLine[]>([]);
  const [result, setResult] = useState<OperationView | undefined>();
  const [error, setError] = useState<unknown>();
  useEffect(() => {
    setLines([]);
    setResult(undefined);
    setError(undefined);
    if (!operationId) return;
    const abort = new AbortController();
    followOperation(client, stream, operationId, {
      signal: abort.signal,
      onLine: (line) =>
        setLines((all) => (all.length >= MAX_LINES ? [...all.slice(-MAX_LINES + 1), line] : [...all, line])),
    }).then(setResult, (failure) => {
      if (!abort.signal.aborted) setError(failure);
    });
    return () => abort.abort();
  }, [operationId]);
  return { lines, result, error };
}

export function OperationLog({
  operationId,
  kind,
  live = true,
}: {
  operationId: string;
  kind: string;
  live?: boolean;
}) {
  const { lines, result, error } = useOperation(operationId);
  const words = KIND_WORDS[kind] ?? { name: kind, doing: kind, done: kind };
  const end = useRef<HTMLOListElement>(null);
  useEffect(() => {
    const list = end.current;
    // Kept at the newest line while it is live.
    if (list && live && lines.length > 0) list.scrollTop = list.scrollHeight;
  }, [lines, live]);
  const state = result?.state ?? "running";
  return (
    <section className={`operation operation-${state}`} aria-label={`${words.doing}: progress`}>
      <header className="operation-head">
        {state === "running" ? (
          <span className="spinner" aria-hidden="true" />
        ) : (
          <Icon name={state === "succeeded" ? "check" : "alert"} />
        )}
        <strong role="status">
          {state === "running"
            ? `${words.doing}…`
            : state === "succeeded"
              ? words.done
              : `${words.doing} failed`}
        </strong>
        <span className="muted">{counted(lines.length, "step")}</span>
      </header>
      <PullProgress operationId={operationId} />
      {/* biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region must be reachable by keyboard (WCAG 2.1.1) */}
      <ol className="steps" ref={end} aria-live="polite" aria-label="Steps" tabIndex={0}>
        {lines.map((line) => (
          <li key={line.seq} className={`step step-${line.level}`} data-seq={line.seq}>
            <time className="step-time" dateTime={new Date(line.at).toISOString()}>
              {new Date(line.at).toLocaleTimeString()}
            </time>
            <span className="step-text">{line.message}</span>
          </li>
        ))}
        {lines.length === 0 && state === "running" && (
          <li className="step muted">Waiting for the first step…</li>
        )}
      </ol>
      {result?.error && <ErrorNote error={new Error(result.error)} />}
      {error !== undefined && <ErrorNote error={error} title="Lost track of this operation" />}
    </section>
  );
}
