// Exfiltration links in a result: markdown images and links (inline and reference-style) and HTML
// elements whose URL would carry data to a host that is not allowed. A client that renders an image
// fetches it without a click, so images count with any data in them (a template to fill, a secret,
// a sentence, an encoded blob); a link needs a click, so only templates and secrets count.
import { scanText } from "../../redaction/scan.ts";
import { LINK_TARGET_WORK, ScanWorkExceeded, type ScanWork } from "./budget.ts";

export interface ExfilLink {
  /** The URL's offsets in the text. */
  readonly start: number;
  readonly end: number;
  readonly rule: string;
  readonly host: string;
  /** What made it data: template, sensitive-data, text-in-url, encoded-data, data-in-hostname. */
  readonly reason: string;
}

const MAX_URL = 4096;
/** Elements a client loads by itself, without a click. */
const AUTO_LOADING = new Set([
  "img",
  "image",
  "iframe",
  "frame",
  "script",
  "source",
  "video",
  "audio",
  "embed",
  "object",
  "link",
  "input",
  "body",
  "table",
  "td",
  "svg",
  "use",
]);

/** A reference definition at a line start (a real line break, or a JSON-escaped one). */
const REFERENCE = /(?:^|\\n)[ \t]{0,3}\[[^[\]\n]{1,200}\]:[ \t]*<?([^\s>"\\]{1,4096})/dgm;
/** An element's URL attribute; quotes may come JSON-escaped (`src=\"…\"`) when the HTML sits in a JSON string. */
const HTML_URL =
  /<([a-z]{1,10})\b[^<>]{0,1000}?\b(?:src|href|srcset|data|action|poster|background|formaction|xlink:href)\s*=\s*\\?(?:"((?:[^"\\]|\\(?!")){1,4096})\\?"|'((?:[^'\\]|\\(?!')){1,4096})\\?'|((?:[^\s"'<>\\]|\\(?!["'])){1,4096}))/dgi;

/**
 * At most this many markdown link targets are read in one text: past it the text is not scanned
 * further and the message is refused. Across the texts of a message, the work budget bounds them.
 */
export const MAX_MARKDOWN_LINKS = 2000;

/**
 * The exfiltration links of a text. Every target judged is charged to `work` (the message's budget),
 * which throws ScanWorkExceeded when the message is over it, as does a text with more than
 * MAX_MARKDOWN_LINKS markdown targets.
 */
export function findExfilLinks(
  text: string,
  allowedHost: (host: string) => boolean,
  work?: ScanWork,
): ExfilLink[] {
  if (!/\/\/|\\\\|\/\\|&#|&[a-z]/i.test(text) || !/[\](<]/.test(text)) return [];
  work?.spend(text.length);
  const found: ExfilLink[] = [];
  const consider = (start: number, url: string, strict: boolean, rule: string) => {
    work?.spend(LINK_TARGET_WORK + url.length);
    const judged = judge(url, strict, allowedHost);
    if (judged) found.push({ start, end: start + url.length, rule, ...judged });
  };
  let read = 0;
  // Each target is read once: the next `](` is looked for after the end of the one just read.
  for (let at = text.indexOf("]("); at >= 0;) {
    if (++read > MAX_MARKDOWN_LINKS)
      throw new ScanWorkExceeded(`more than ${MAX_MARKDOWN_LINKS} markdown link targets in one text`);
    let start = at + 2;
    while ((text[start] === " " || text[start] === "<") && start - at < 64) start++;
    let end = start;
    while (end < text.length && end - start < MAX_URL && !/[\s)>]/.test(text[end] ?? " ")) end++;
    const image = opensImage(text, at);
    consider(
      start,
      text.slice(start, end),
      image,
      image ? "exfil-link:markdown-image" : "exfil-link:markdown-link",
    );
    at = text.indexOf("](", Math.max(at + 2, end));
  }
  const images = text.includes("![");
  for (const m of text.matchAll(new RegExp(REFERENCE.source, "dgm"))) {
    const url = m[1] ?? "";
    consider(m.indices?.[1]?.[0] ?? 0, url, images, "exfil-link:markdown-reference");
  }
  if (text.includes("<")) {
    for (const m of text.matchAll(new RegExp(HTML_URL.source, "dgi"))) {
      const group = m[2] !== undefined ? 2 : m[3] !== undefined ? 3 : 4;
      const raw = m[group] ?? "";
      const lead = raw.length - raw.trimStart().length;
      const url = raw.trimStart().split(/[\s,]/)[0] ?? "";
      const loads = AUTO_LOADING.has((m[1] ?? "").toLowerCase());
      consider(
        (m.indices?.[group]?.[0] ?? 0) + lead,
        url,
        loads,
        loads ? "exfil-link:html-image" : "exfil-link:html-link",
      );
    }
  }
  return found;
}

/** Whether the `[` that `](` closes is preceded by `!` (looked for within 200 characters). */
function opensImage(text: string, closeAt: number): boolean {
  let depth = 0;
  for (let i = closeAt - 1; i >= 0 && closeAt - i <= 200; i--) {
    const ch = text[i];
    if (ch === "]") depth++;
    else if (ch === "[") {
      if (depth === 0) return text[i - 1] === "!";
      depth--;
    } else if (ch === "\n" && text[i - 1] === "\n") return false;
  }
  return false;
}

/**
 * Placeholders a model is asked to fill in: `{data}`, `$SECRET`, `[INSERT_HERE]`, `<conversation>`,
 * and shouting snake case of three words or more (`SUMMARY_OF_THE_CONVERSATION`, `PASTE_THE_KEY`).
 */
const TEMPLATE =
  /[{}]|\$\{?[A-Z_]{2,}|%[A-Z_]{3,}%|\[(?:[A-Z_ ]{3,40})\]|<[A-Za-z_ ]{2,40}>|\b(?:INSERT|REPLACE|YOUR)_[A-Z_]+|(?<![A-Za-z0-9_])[A-Z]{2,20}_[A-Z]{2,20}_[A-Z]{2,20}/;

/** A base no real host has: a relative URL resolves onto it, anything that leaves it names another host. */
const BASE = "https://client.invalid/";
const BASE_HOST = "client.invalid";

/** The URL a browser would fetch: HTML character references resolved, spaces trimmed, `\\` read as `/`. */
function normaliseUrl(url: string): string {
  return decodeEntities(url).trim().replace(/\\/g, "/");
}

const ENTITY = /&(?:#x([0-9a-f]{1,6});?|#([0-9]{1,7});?|(colon|sol|period|amp|tab|newline|lpar|rpar);)/gi;
const NAMED: Readonly<Record<string, string>> = {
  colon: ":",
  sol: "/",
  period: ".",
  amp: "&",
  tab: "",
  newline: "",
  lpar: "(",
  rpar: ")",
};

export function decodeEntities(text: string): string {
  if (!text.includes("&")) return text;
  return text.replace(
    ENTITY,
    (whole, hex: string | undefined, dec: string | undefined, name: string | undefined) => {
      const cp = hex ? parseInt(hex, 16) : dec ? parseInt(dec, 10) : undefined;
      if (cp === undefined) return NAMED[(name ?? "").toLowerCase()] ?? whole;
      return cp > 0 && cp <= 0x10ffff ? String.fromCodePoint(cp) : "";
    },
  );
}

function judge(
  raw: string,
  strict: boolean,
  allowedHost: (host: string) => boolean,
): { host: string; reason: string } | undefined {
  const url = normaliseUrl(raw);
  // A fragment or a plain relative path stays on the page's own host.
  if (url === "" || url.startsWith("#")) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(url, BASE);
  } catch {
    return undefined;
  }
  if (parsed.protocol !== "https:" && parsed.protocol !== "http:") return undefined;
  const host = parsed.hostname;
  if (host === BASE_HOST || host === "" || allowedHost(host)) return undefined;
  const decoded = decode(url);
  if (TEMPLATE.test(decoded)) return { host, reason: "template" };
  // Personal data in a link is common (an unsubscribe link with the address); in an image it is not.
  const sensitive = scanText(decoded, { pii: strict }).find((finding) => !finding.placeholder);
  if (sensitive) return { host, reason: `sensitive-data:${sensitive.kind}` };
  if (!strict) return undefined;
  const segments = parsed.pathname
    .split("/")
    .map((segment) => decode(segment).replace(/\.[a-z0-9]{2,5}$/i, ""));
  const parts = [...parsed.searchParams.values(), ...segments];
  if (parts.some((part) => words(part) >= 5)) return { host, reason: "text-in-url" };
  if (parts.some(encodedData)) return { host, reason: "encoded-data" };
  if (host.split(".").some(encodedLabel)) return { host, reason: "data-in-hostname" };
  return undefined;
}

function decode(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, " "));
  } catch {
    return text;
  }
}

function words(text: string): number {
  return text.split(/[\s_]+/).filter((word) => /[A-Za-z]{2,}/.test(word)).length;
}

/**
 * Base64 of something: long, upper and lower case and digits mixed. Never a hex digest, a UUID or a
 * lower-case slug with ids (`photo-1521-16bf57af`), which is what image CDNs put in their paths.
 */
function encodedData(text: string): boolean {
  if (text.length < 32 || !/^[A-Za-z0-9+/=_-]+$/.test(text)) return false;
  return /\d/.test(text) && /[a-z]/.test(text) && /[A-Z]/.test(text) && new Set(text).size >= 16;
}

/** A host label that carries data (DNS exfiltration): long, letters and digits, not a hex digest. */
function encodedLabel(label: string): boolean {
  if (label.length < 32 || !/^[a-z0-9-]+$/i.test(label) || /^[0-9a-f-]+$/i.test(label)) return false;
  return /\d/.test(label) && /[a-z]/i.test(label) && new Set(label.toLowerCase()).size >= 14;
}
