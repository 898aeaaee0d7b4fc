/**
 * The web UI benchmark, three measures against the daemon's own serving (in-process, with N
 * installed apps recorded in its store and observed running; Podman never answers, so nothing but
 * the API and the UI run) and Debian's Chromium:
 *
 * 1. weight: the JS and CSS the first page loads, as transferred (gzipped). Target: at most
 *    --budget-kb (250).
 * 2. time to My Apps: from navigation to every one of the N apps' cards rendered (the page's own
 *    clock, `performance.now()`), p50 over --rounds page loads, with the time to the login page (the
 *    same code, no data) beside it as the baseline. Target: p50 at most --target-ms (1000).
 * 3. memory under live events: My Apps open while the daemon publishes events about the apps
 *    (lifecycle requests: an app's phase and its operation, --rate a second) for --seconds (600);
 *    the page's JS heap after a forced garbage collection at the start and at the end. Target: the
 *    end at most 2× the start.
 *
 *   node bench/ui.bench.ts [--apps 100] [--rounds 15] [--seconds 600] [--rate 20] [--budget-kb 250]
 *                          [--target-ms 1000] [--json]
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { ApiClient } from "../src/client/rpc.ts";
import { loadConfig } from "../src/daemon/config.ts";
import { runDaemon } from "../src/daemon/daemon.ts";
import { ensureWebBuilt, launch } from "../test/web/browser.ts";
import { seedApps } from "./seed-apps.ts";
import {
  benchArgs,
  EXIT_ERROR,
  EXIT_MISSED,
  EXIT_PASS,
  intOption,
  machine,
  round,
  summarize,
  table,
} from "./support.ts";

const log = (message: string) => process.stderr.write(`ui-bench: ${message}\n`);
const PASSWORD = "a benchmark password";

type Params = {
  apps: number;
  rounds: number;
  seconds: number;
  rate: number;
  budgetKb: number;
  targetMs: number;
};

function options(): { params: Params; json: boolean } {
  const { values, json } = benchArgs(
    ["apps", "rounds", "seconds", "rate", "budget-kb", "target-ms"],
    "node bench/ui.bench.ts [--apps 100] [--rounds 15] [--seconds 600] [--rate 20] [--budget-kb 250] [--target-ms 1000] [--json]",
    log,
  );
  return {
    params: {
      apps: intOption(values.apps, "apps", 100),
      rounds: intOption(values.rounds, "rounds", 15),
      seconds: intOption(values.seconds, "seconds", 600),
      rate: intOption(values.rate, "rate", 20),
      budgetKb: intOption(values["budget-kb"], "budget-kb", 250),
      targetMs: intOption(values["target-ms"], "target-ms", 1000),
    },
    json,
  };
}

/** The JS and CSS the page at `origin` loads, each as transferred with gzip accepted. */
async function weight(
  origin: string,
): Promise<{ files: Array<{ path: string; bytes: number }>; bytes: number }> {
  const html = await (await fetch(`${origin}/`)).text();
  const paths = [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+\.(?:js|css))"/g)].map(
    (m) => m[1] as string,
  );
  const files = [];
  for (const path of paths) {
    // fetch() would decompress: ask for the raw bytes the wire carries.
    const response = await fetch(`${origin}${path}`, { headers: { "accept-encoding": "gzip" } });
    const raw = await response.arrayBuffer();
    const encoded = response.headers.get("content-encoding") === "gzip";
    const length = Number(response.headers.get("content-length") ?? Number.NaN);
    files.push({ path, bytes: encoded && Number.isFinite(length) ? length : raw.byteLength });
  }
  return { files, bytes: files.reduce((sum, f) => sum + f.bytes, 0) };
}

/** Every app's card is on the page (a locator: the page's CSP allows no eval, which predicates need). */
async function allCardsShown(page: Page, apps: number): Promise<void> {
  await page
    .locator("[data-app]")
    .nth(apps - 1)
    .waitFor({ timeout: 120_000 });
}

/** The page's heap after a full garbage collection, in bytes. */
async function heapAfterGc(page: Page): Promise<number> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("HeapProfiler.collectGarbage");
  await cdp.send("Performance.enable");
  const { metrics } = await cdp.send("Performance.getMetrics");
  await cdp.detach();
  return metrics.find((m) => m.name === "JSHeapUsedSize")?.value ?? Number.NaN;
}

async function benchmark(): Promise<number> {
  const { params, json } = options();
  ensureWebBuilt();
  const dataDir = mkdtempSync(join(tmpdir(), "archy-bench-ui-"));
  let daemon: Awaited<ReturnType<typeof runDaemon>> | undefined;
  let chromium: Awaited<ReturnType<typeof launch>> | undefined;
  try {
    seedApps(dataDir, params.apps);
    const config = loadConfig({
      flags: {
        "data-dir": dataDir,
        backend: "podman",
        "podman-socket": join(dataDir, "nothing-answers-here.sock"),
      },
      env: {},
    });
    daemon = await runDaemon(
      { ...config, listen: { host: "127.0.0.1", port: 0 }, resyncMs: 3_600_000, logLevel: "warn" },
      { destination: { write: () => {} } },
    );
    const origin = daemon.url;
    const api = new ApiClient({
      baseUrl: origin,
      auth: { kind: "token", token: () => readFileSync(join(dataDir, "state", "cli-token"), "utf8").trim() },
    });
    await api.call("auth.setup", { password: PASSWORD });
    log(`daemon with ${params.apps} apps at ${origin}`);

    // ---- 1. weight
    const transferred = await weight(origin);
    log(`first page: ${transferred.files.map((f) => `${f.path} ${f.bytes} B`).join(", ")}`);

    // ---- 2. time to My Apps (and to the login page, the baseline)
    chromium = await launch();
    const context = await chromium.browser.newContext({
      baseURL: origin,
      viewport: { width: 1280, height: 820 },
    });
    const login = await context.newPage();
    const loginTimes: number[] = [];
    for (let i = 0; i < params.rounds; i++) {
      await login.goto("/login");
      await login.getByRole("heading", { name: "Log in" }).waitFor();
      loginTimes.push(await login.evaluate<number>("performance.now()"));
    }
    await login.getByLabel("Password", { exact: true }).fill(PASSWORD);
    await login.getByRole("button", { name: "Log in" }).click();
    await login.getByRole("heading", { name: "My Apps" }).waitFor();
    await login.close();
    const page = await context.newPage();
    const listTimes: number[] = [];
    for (let i = 0; i < params.rounds; i++) {
      await page.goto("/");
      await allCardsShown(page, params.apps);
      listTimes.push(await page.evaluate<number>("performance.now()"));
    }
    const list = summarize(listTimes);
    const baseline = summarize(loginTimes);
    log(
      `My Apps with ${params.apps} apps: p50 ${round(list.p50)} ms (login page: ${round(baseline.p50)} ms)`,
    );

    // ---- 3. memory under live events
    await page.goto("/");
    await allCardsShown(page, params.apps);
    const ids = (await api.call("package.list")).map((a) => a.id);
    const store = daemon.orchestrator.store;
    let events = 0;
    let i = 0;
    // One lifecycle request after another: each publishes the app's phase and its pending
    // operation, which the page writes into its cache; the operation is then marked done, as the
    // reconciler would, so that the next request of the app is accepted.
    const tick = async () => {
      const id = ids[i % ids.length] as string;
      const stop = i % (2 * ids.length) < ids.length;
      i++;
      const accepted = await api.call(stop ? "package.stop" : "package.start", { id });
      store.setOperationState(accepted.operationId, "succeeded", Date.now());
      events += 2;
    };
    for (let w = 0; w < Math.min(ids.length, 20); w++) await tick();
    const heapStart = await heapAfterGc(page);
    const until = Date.now() + params.seconds * 1000;
    const interval = 1000 / params.rate;
    while (Date.now() < until) {
      const started = Date.now();
      await tick();
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, interval - (Date.now() - started))));
    }
    await allCardsShown(page, params.apps);
    const heapEnd = await heapAfterGc(page);
    log(`heap ${round(heapStart / 1e6)} MB → ${round(heapEnd / 1e6)} MB after ${events} events`);

    const weightPass = transferred.bytes <= params.budgetKb * 1024;
    const timePass = list.p50 <= params.targetMs;
    const memoryPass = heapEnd <= 2 * heapStart;
    const result = {
      benchmark: "ui",
      date: new Date().toISOString(),
      machine: machine(),
      params,
      weight: {
        bytes: transferred.bytes,
        files: transferred.files,
        budgetBytes: params.budgetKb * 1024,
        pass: weightPass,
      },
      myApps: {
        p50: round(list.p50),
        p90: round(list.p90),
        max: round(list.max),
        loginP50: round(baseline.p50),
        ratio: round(list.p50 / baseline.p50),
        pass: timePass,
      },
      memory: {
        startBytes: heapStart,
        endBytes: heapEnd,
        ratio: round(heapEnd / heapStart),
        events,
        pass: memoryPass,
      },
      pass: weightPass && timePass && memoryPass,
    };
    if (json) process.stdout.write(`${JSON.stringify(result)}\n`);
    else
      process.stdout.write(
        `${[
          `ui benchmark, ${result.date}: ${params.apps} apps, ${params.rounds} page loads, ${params.seconds} s of events at ${params.rate}/s`,
          "",
          table(
            ["measure", "value", "target", "pass"],
            [
              [
                "JS+CSS of the first page, gzipped",
                `${round(transferred.bytes / 1024)} KB`,
                `≤ ${params.budgetKb} KB`,
                weightPass ? "yes" : "NO",
              ],
              [
                "navigation → My Apps rendered, p50",
                `${round(list.p50)} ms (login page ${round(baseline.p50)} ms, ×${result.myApps.ratio})`,
                `≤ ${params.targetMs} ms`,
                timePass ? "yes" : "NO",
              ],
              [
                "page heap, end / start of events",
                `${round(heapStart / 1e6)} → ${round(heapEnd / 1e6)} MB (×${result.memory.ratio})`,
                "≤ ×2",
                memoryPass ? "yes" : "NO",
              ],
            ],
          ),
        ].join("\n")}\n`,
      );
    return result.pass ? EXIT_PASS : EXIT_MISSED;
  } finally {
    await chromium?.close();
    await daemon?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

benchmark().then(
  (code) => process.exit(code),
  (error) => {
    log(`failed: ${(error as Error)?.stack ?? error}`);
    process.exit(EXIT_ERROR);
  },
);
