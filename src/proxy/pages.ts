/**
 * The few pages the proxy itself answers with: the login in front of apps, the hop that lets the
 * browser send the operator's SameSite=Strict cookie, how to trust the node's authority, and errors
 * (an app not running, a refused return address). Plain HTML, no script, a style allowed by its
 * hash only. Pure.
 */
import { createHash } from "node:crypto";

const STYLE = `body{font:16px/1.5 system-ui,sans-serif;max-width:28rem;margin:4rem auto;padding:0 1rem;color:#1d2433;background:#f6f7f9}
h1{font-size:1.4rem}form{display:grid;gap:.75rem}input{font:inherit;padding:.5rem;border:1px solid #9aa3b2;border-radius:.3rem}
button{font:inherit;padding:.55rem;border:0;border-radius:.3rem;background:#2451b7;color:#fff;cursor:pointer}
.error{color:#a4161a}code{background:#e8ebf0;padding:0 .2rem;border-radius:.2rem}
@media (prefers-color-scheme:dark){body{color:#e6e9ef;background:#14171d}input{background:#1d2129;color:inherit}code{background:#262b35}.error{color:#ff8a8a}}`;

const STYLE_HASH = createHash("sha256").update(STYLE).digest("base64");

/**
 * The headers of a page with the login form: only its own style, no framing; a form
 * may post only to this host, and the redirects that follow it (a browser checks them against
 * `form-action` too) go only to `formTarget`, the app the login is for.
 */
export function pageHeaders(formTarget?: string): Record<string, string> {
  return {
    ...PAGE_HEADERS,
    "content-security-policy": `default-src 'none'; style-src 'sha256-${STYLE_HASH}'; form-action 'self'${formTarget ? ` ${formTarget}` : ""}; frame-ancestors 'none'; base-uri 'none'`,
    // The form's post must carry its Origin (checked): with no-referrer a browser sends `null`.
    "referrer-policy": "same-origin",
  };
}

/** The headers of every page without a form. */
export const PAGE_HEADERS: Record<string, string> = {
  "content-type": "text/html; charset=utf-8",
  "content-security-policy": `default-src 'none'; style-src 'sha256-${STYLE_HASH}'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'`,
  "x-frame-options": "DENY",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cache-control": "no-store",
};

export function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] as string,
  );
}

function page(title: string, body: string, head = ""): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeHtml(title)}</title>${head}<style>${STYLE}</style></head>
<body><main>${body}</main></body></html>
`;
}

/** The login in front of an app: the operator password, sent back here with where to return. */
export function loginPage(options: {
  appName: string;
  returnUrl: string;
  error?: string;
  setUp: boolean;
}): string {
  if (!options.setUp)
    return page(
      "Archipelago: set up first",
      `<h1>This node has no operator password yet</h1><p>Open <a href="/">the node's page</a> to set one, then open ${escapeHtml(options.appName)} again.</p>`,
    );
  return page(
    `Log in to open ${options.appName}`,
    `<h1>Log in to open ${escapeHtml(options.appName)}</h1>
<p>Apps on this node open only for its operator.</p>
${options.error ? `<p class="error" role="alert">${escapeHtml(options.error)}</p>` : ""}
<form method="post" action="/app-login">
<input type="hidden" name="to" value="${escapeHtml(options.returnUrl)}">
<label for="password">Operator password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required autofocus>
<button type="submit">Log in</button>
</form>
<p><a href="/trust">Trust this node on your devices</a> (its certificate, per system).</p>`,
  );
}

/** The name the /trust page downloads the authority under, and its commands use. */
export const CA_DOWNLOAD_NAME = "archipelago-node-ca.crt";

/**
 * Trusting the authority for Chromium and Chrome on Linux, which read the user's own NSS database
 * (`~/.pki/nssdb`), not the system store: run as the user, no sudo. The directory is made first:
 * certutil does not create it, and Chromium only does on its first start.
 */
export const NSS_TRUST_COMMAND = `mkdir -p $HOME/.pki/nssdb && certutil -d sql:$HOME/.pki/nssdb -A -t C,, -n archipelago-node -i ${CA_DOWNLOAD_NAME}`;

/** How to trust the node's authority (docs/app-access.md#trusting-the-nodes-authority), per system. */
export function trustPage(options: { fingerprint: string; caPath: string }): string {
  const download = `<a href="${escapeHtml(options.caPath)}" download>${CA_DOWNLOAD_NAME}</a>`;
  const code = (command: string) => `<code>${escapeHtml(command)}</code>`;
  const steps: Array<[string, string]> = [
    [
      "Debian, Ubuntu",
      `${code(`sudo cp ${CA_DOWNLOAD_NAME} /usr/local/share/ca-certificates/ && sudo update-ca-certificates`)} (the system store: curl and most programs; Chromium and Firefox keep their own, below)`,
    ],
    ["Fedora, Arch", `${code(`sudo trust anchor --store ${CA_DOWNLOAD_NAME}`)} (the system store)`],
    [
      "Chromium, Chrome on Linux",
      `as yourself, not root: ${code(NSS_TRUST_COMMAND)} (certutil is in Debian's and Ubuntu's package <code>libnss3-tools</code>, Fedora's <code>nss-tools</code>, Arch's <code>nss</code>), then restart the browser; or Settings → Privacy and security → Security → Manage certificates → Authorities → Import`,
    ],
    [
      "macOS",
      `${code(`sudo security add-trusted-cert -d -r trustRoot -k /Library/Keychains/System.keychain ${CA_DOWNLOAD_NAME}`)}, or open it in Keychain Access and set Always Trust`,
    ],
    [
      "Windows",
      `${code(`certutil -addstore -f Root ${CA_DOWNLOAD_NAME}`)} as administrator, or open it → Install Certificate → Local Machine → Trusted Root Certification Authorities`,
    ],
    [
      "Firefox",
      "Settings → Privacy &amp; Security → Certificates → View Certificates → Authorities → Import, tick websites",
    ],
    [
      "Android",
      "Settings → Security → Encryption &amp; credentials → Install a certificate → CA certificate",
    ],
    [
      "iOS, iPadOS",
      "open the file, install it in Settings → General → VPN &amp; Device Management, then turn it on in Settings → General → About → Certificate Trust Settings",
    ],
  ];
  return page(
    "Trust this node",
    `<h1>Trust this node</h1>
<p>This node serves its apps over HTTPS with certificates of its own authority. Download it (${download}),
check that its SHA-256 fingerprint is the one the node's log gives, then trust it:</p>
<p><code>${escapeHtml(options.fingerprint)}</code></p>
<dl>${steps.map(([system, how]) => `<dt>${system}</dt><dd>${how}</dd>`).join("")}</dl>`,
  );
}

/**
 * The same address again, loaded by this page itself: the browser arrived from an app's host, a
 * navigation on which it does not send the node's SameSite=Strict session cookie; loaded from the
 * node's own page, it does (a logged-in operator goes straight on).
 */
export function hopPage(url: string): string {
  return page(
    "Archipelago",
    `<p><a href="${escapeHtml(url)}">Continue</a></p>`,
    `<meta http-equiv="refresh" content="0;url=${escapeHtml(url)}">`,
  );
}

export function messagePage(title: string, message: string): string {
  return page(title, `<h1>${escapeHtml(title)}</h1><p>${escapeHtml(message)}</p>`);
}
