/**
 * The console's frame: the navigation (a side bar on a desktop, a tab bar at the bottom of a phone),
 * the connection's state when it is not live, and the page.
 */
import { type ReactNode, useEffect, useState, useSyncExternalStore } from "react";
import { Link, useLocation } from "wouter";
import { stream } from "../api.ts";
import { queryClient } from "../queries.ts";
import { useSession } from "../session.tsx";
import { Icon, type IconName } from "./Icon.tsx";

const NAV: Array<{ href: string; label: string; icon: IconName; match: (path: string) => boolean }> = [
  { href: "/", label: "My Apps", icon: "apps", match: (p) => p === "/" || p.startsWith("/apps") },
  { href: "/store", label: "App Store", icon: "store", match: (p) => p.startsWith("/store") },
  { href: "/backups", label: "Backups", icon: "shield", match: (p) => p.startsWith("/backups") },
  { href: "/settings", label: "Settings", icon: "settings", match: (p) => p.startsWith("/settings") },
];

/** Whether the live connection is down, and since which attempt. */
function useConnection() {
  const [state, setState] = useState({ status: stream.status, attempt: stream.attempt });
  useEffect(() => stream.onStatus(setState), []);
  return state;
}

/**
 * Whether what the page shows is current: "connecting" until the live stream is open, "reading"
 * while a read is in flight (the first reads, or the ones the stream's hello asks for again), then
 * "current". Read at render time from the stream and the cache themselves, so it never says
 * "current" between the stream opening and the re-reads its hello starts (both happen in one turn).
 */
function useFreshness(): "connecting" | "reading" | "current" {
  return useSyncExternalStore(subscribeFreshness, () =>
    stream.status !== "open" ? "connecting" : queryClient.isFetching() > 0 ? "reading" : "current",
  );
}

function subscribeFreshness(changed: () => void): () => void {
  const offStatus = stream.onStatus(changed);
  const offCache = queryClient.getQueryCache().subscribe(changed);
  return () => {
    offStatus();
    offCache();
  };
}

export function Shell({ children }: { children: ReactNode }) {
  const [path] = useLocation();
  const { logout } = useSession();
  const connection = useConnection();
  const lost = connection.status === "connecting" && connection.attempt > 0;
  const freshness = useFreshness();
  return (
    <div className="shell">
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="sidebar">
        <Link href="/" className="brand" aria-label="Archipelago: My Apps">
          <img src="/favicon.svg" alt="" width="28" height="28" />
          <span>Archipelago</span>
        </Link>
        <nav aria-label="Main" className="nav">
          {NAV.map((item) => (
            <Link
              key={item.href}
              href={item.href}
              className={`nav-link${item.match(path) ? " active" : ""}`}
              aria-current={item.match(path) ? "page" : undefined}
            >
              <Icon name={item.icon} size={20} />
              <span>{item.label}</span>
            </Link>
          ))}
        </nav>
        <button type="button" className="nav-link logout" onClick={() => void logout()}>
          <Icon name="logout" size={20} />
          <span>Log out</span>
        </button>
      </header>
      <main id="main" className="main" tabIndex={-1} data-freshness={freshness}>
        {lost && (
          <div className="banner banner-warn" role="status">
            <Icon name="wifiOff" />
            <span>Connection to the node lost: reconnecting… What you see may be out of date.</span>
          </div>
        )}
        {children}
      </main>
    </div>
  );
}
