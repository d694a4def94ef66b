// The path detector: a value is decoded (percent-encoding, repeatedly; %u; full-width forms) and
// normalised (backslashes, `..`, drive letters, UNC, `~`) in every form a server might see, and each
// form must stay inside the roots and away from well-known secret files. Symlinks are not resolved.
import { CONTROL_CHARACTER, finding, type Finding } from "./findings.ts";

interface Root {
  readonly flavour: "posix" | "win32" | "home";
  /** The normalised root (lower-case for Windows), without a trailing separator. */
  readonly base: string;
}

export interface PathPolicy {
  readonly roots: readonly Root[];
  readonly sensitive: boolean;
  /** Where relative paths are resolved from (the server's working directory), when configured. */
  readonly base?: Root;
}

export function pathPolicy(roots: readonly string[], sensitive: boolean, base?: string): PathPolicy {
  return {
    roots: roots.map(compileRoot),
    sensitive,
    base: base === undefined ? undefined : compileRoot(base),
  };
}

function compileRoot(root: string): Root {
  const slashed = root.replace(/\\/g, "/");
  if (root.startsWith("~")) return { flavour: "home", base: trimSeparator(resolveForm(slashed, "home")) };
  if (root.startsWith("/") && !root.startsWith("//"))
    return { flavour: "posix", base: trimSeparator(resolveForm(slashed, "posix")) };
  return { flavour: "win32", base: trimSeparator(resolveForm(slashed, "win32")).toLowerCase() };
}

function trimSeparator(text: string): string {
  return text.length > 1 && /[\\/]$/.test(text) && !/^[A-Za-z]:[\\/]$/.test(text) ? text.slice(0, -1) : text;
}

const MAX_DECODE_ROUNDS = 3;

export function checkPath(value: string, policy: PathPolicy): Finding | undefined {
  const forms = pathForms(value);
  if (!Array.isArray(forms)) return forms;
  for (const form of forms) {
    const problem = checkForm(form, policy);
    if (problem) return problem;
  }
  return undefined;
}

/** The value, each percent-decoding of it, their NFKC forms and the path of a file: URL. */
function pathForms(value: string): string[] | Finding {
  const forms = [value];
  let current = value;
  for (let round = 0; round < MAX_DECODE_ROUNDS && /%(?:[0-9a-f]{2}|u[0-9a-f]{4})/i.test(current); round++) {
    const decoded = percentDecode(current);
    if (typeof decoded !== "string") return decoded;
    if (decoded === current) break;
    forms.push(decoded);
    current = decoded;
  }
  for (const form of [...forms]) {
    // Full-width `．．／` folds to `../`; plain ASCII has nothing to fold.
    if (!/[\u0080-\uffff]/.test(form)) continue;
    const folded = form.normalize("NFKC");
    if (folded !== form) forms.push(folded);
  }
  for (const form of [...forms]) {
    if (!/^file:/i.test(form)) continue;
    const local = fileUrlPath(form);
    if (typeof local !== "string") return local;
    forms.push(local);
  }
  return forms;
}

function fileUrlPath(text: string): string | Finding {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return text.replace(/^file:\/*/i, "/");
  }
  if (url.hostname !== "" && url.hostname !== "localhost")
    return finding("path-unc", "a file: URL naming another host (a network share)");
  return url.pathname;
}

/**
 * Decodes %XX (as UTF-8) and %uXXXX. Overlong UTF-8 (%c0%ae for `.`) has no benign use and is
 * refused, since some decoders still map it to the character it disguises.
 */
function percentDecode(text: string): string | Finding {
  let out = "";
  let bytes: number[] = [];
  const flush = (): Finding | undefined => {
    if (bytes.length === 0) return undefined;
    if (isOverlong(bytes)) return finding("path-overlong-encoding", "an overlong UTF-8 encoding");
    out += Buffer.from(bytes).toString("utf8");
    bytes = [];
    return undefined;
  };
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === "%" && /^[0-9a-f]{2}$/i.test(text.slice(i + 1, i + 3))) {
      bytes.push(parseInt(text.slice(i + 1, i + 3), 16));
      i += 2;
      continue;
    }
    const problem = flush();
    if (problem) return problem;
    if (ch === "%" && /^u[0-9a-f]{4}$/i.test(text.slice(i + 1, i + 6))) {
      out += String.fromCharCode(parseInt(text.slice(i + 2, i + 6), 16));
      i += 5;
      continue;
    }
    out += ch;
  }
  return flush() ?? out;
}

function isOverlong(bytes: readonly number[]): boolean {
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i] ?? 0;
    const next = bytes[i + 1] ?? 0x80;
    if (b === 0xc0 || b === 0xc1) return true;
    if (b === 0xe0 && next < 0xa0) return true;
    if (b === 0xf0 && next < 0x90) return true;
  }
  return false;
}

type Shape = "posix" | "win32" | "home" | "relative";

/** `..`, and `...` or `.. ` which Windows reads as `..` (it drops trailing dots and spaces). */
function isParent(segment: string): boolean {
  return segment.startsWith("..") && /^\.\.[. ]*$/.test(segment);
}

function checkForm(form: string, policy: PathPolicy): Finding | undefined {
  if (form.includes("\u0000")) return finding("path-nul-byte", "a NUL byte (truncates the path)");
  if (CONTROL_CHARACTER.test(form)) return finding("path-control-character", "a control character");
  const slashed = form.replace(/\\/g, "/");
  // `\\server\share`, and the device paths `\\?\…` and `\\.\…`.
  if (/^\/\/[^/]/.test(slashed)) return finding("path-unc", "a UNC or device path (a network share)");
  const shape: Shape = /^[A-Za-z]:/.test(slashed)
    ? "win32"
    : slashed.startsWith("/")
      ? "posix"
      : slashed.startsWith("~")
        ? "home"
        : "relative";
  // After the drive (`C:`, `C:..` climbs too); the first segment of a home path is the root itself.
  const segments = (shape === "win32" ? slashed.slice(2) : slashed).split("/");
  let depth = 0;
  let parents = 0;
  const start = shape === "home" ? 1 : 0;
  for (let i = start; i < segments.length; i++) {
    const segment = segments[i] ?? "";
    if (segment === "" || segment === ".") continue;
    if (isParent(segment)) {
      parents++;
      depth--;
      if (depth < 0) return finding("path-traversal", "`..` segments that climb above the start");
    } else depth++;
  }
  if (policy.roots.length === 0 && parents > 0 && shape !== "relative")
    return finding("path-traversal", "`..` segments in an absolute path");
  const resolved = resolveForm(slashed, shape);
  if (shape === "relative") {
    // A file: URL as written; its path is a form of its own, checked as such.
    if (/^file:/i.test(slashed)) return undefined;
    // Relative to what the server takes as its working directory: with a configured base, the path
    // it names; without, an unknown one (often `/` in a container), so roots cannot be checked.
    const base = policy.base;
    if (base) return checkResolved(resolveForm(joinBase(base, resolved), base.flavour), base.flavour, policy);
    if (policy.roots.length > 0)
      return finding("path-relative", "a relative path (roots are set and no `path.base` resolves it)");
  }
  return checkResolved(resolved, shape, policy);
}

/** `base` and a resolved relative path (which never climbs: that is refused before). */
function joinBase(base: Root, relative: string): string {
  const slashedBase = base.base.replace(/\\/g, "/");
  return relative === "" ? slashedBase : `${slashedBase.replace(/\/$/, "")}/${relative}`;
}

function checkResolved(resolved: string, shape: Shape, policy: PathPolicy): Finding | undefined {
  if (policy.sensitive) {
    const secret = sensitiveLocation(resolved.toLowerCase().replace(/\\/g, "/"), shape === "relative");
    if (secret) return finding("path-sensitive", `a well-known sensitive location (${secret})`);
  }
  if (policy.roots.length > 0 && !insideRoots(resolved, shape, policy.roots))
    return finding("path-outside-roots", "a path outside the allowed roots");
  return undefined;
}

/**
 * The path with `.` and `..` applied, as the server would resolve it; `...` and `.. ` climb too (as
 * on Windows, and as a filter that strips `../` once turns `....//` into `../`). A drive-relative path
 * (`C:x`) is taken from the drive's root, never from the gateway's own directory.
 */
function resolveForm(slashed: string, shape: Shape): string {
  const drive = shape === "win32" ? slashed.slice(0, 2) : undefined;
  const segments = (drive ? slashed.slice(2) : slashed).split("/");
  const head = shape === "home" ? segments.shift() : shape === "relative" ? undefined : (drive ?? "");
  const kept: string[] = [];
  for (const segment of segments) {
    if (segment === "" || segment === ".") continue;
    if (isParent(segment)) {
      if (kept.length > 0 && kept.at(-1) !== "..") kept.pop();
      else if (shape === "relative") kept.push("..");
    } else kept.push(segment);
  }
  const rest = kept.join("/");
  if (shape === "win32") return `${head}\\${kept.join("\\")}`;
  return head === undefined ? rest : `${head}/${rest}`;
}

function insideRoots(resolved: string, shape: Shape, roots: readonly Root[]): boolean {
  const text = shape === "win32" ? resolved.toLowerCase() : resolved;
  return roots.some((root) => {
    if (root.flavour !== shape) return false;
    if (text === root.base) return true;
    const separator = shape === "win32" ? "\\" : "/";
    return text.startsWith(root.base.endsWith(separator) ? root.base : root.base + separator);
  });
}

const SECRET_DIRECTORIES = new Set([".ssh", ".gnupg", ".aws", ".azure", ".kube", ".password-store"]);
const SECRET_FILES = new Set([
  ".netrc",
  "_netrc",
  ".git-credentials",
  ".pgpass",
  ".my.cnf",
  ".vault-token",
  ".htpasswd",
  ".bash_history",
  ".zsh_history",
  ".psql_history",
  ".mysql_history",
  ".python_history",
  "id_rsa",
  "id_dsa",
  "id_ecdsa",
  "id_ed25519",
  "ntds.dit",
  "win.ini",
  "boot.ini",
]);
/** A directory and the child in it that holds secrets. */
const SECRET_PAIRS = new Map([
  [".config", "gcloud"],
  [".docker", "config.json"],
  [".terraform.d", "credentials.tfrc.json"],
  ["system32", "config"],
]);
const SYSTEM_PREFIXES = [
  "/etc/shadow",
  "/etc/gshadow",
  "/etc/passwd",
  "/etc/master.passwd",
  "/etc/sudoers",
  "/etc/security/",
  "/etc/ssl/private/",
  "/etc/kubernetes/",
  "/etc/ssh/",
  "/etc/crontab",
  "/etc/cron.d/",
  "/boot/",
  "/proc/",
  "/sys/",
  "/dev/",
  "/root/",
  "/var/run/secrets/",
  "/run/secrets/",
  "/var/run/docker.sock",
  "/run/docker.sock",
];
/** The prefixes as whole paths too: `/proc` is as sensitive as `/proc/…`. */
const SYSTEM_EXACT = new Set(SYSTEM_PREFIXES.map((prefix) => prefix.replace(/\/$/, "")));
/** `.env` and its variants, but not the templates projects commit (`.env.example`). */
const ENV_FILE = /^\.env(?:\.(?!example$|sample$|template$|dist$|defaults$)[a-z0-9_.-]+)?$/;

/**
 * The kind of secret a (lower-case, `/`-separated, normalised) path points at, if any. A relative
 * path is also read from `/` (`etc/shadow`, `proc/self/environ`): servers in containers often run
 * there, and without a configured base the gateway cannot know they do not.
 */
function sensitiveLocation(text: string, relative = false): string | undefined {
  const system = relative ? `/${text}` : text;
  if (system.startsWith("/")) {
    if (SYSTEM_EXACT.has(system)) return "system file";
    for (const prefix of SYSTEM_PREFIXES) if (system.startsWith(prefix)) return "system file";
  }
  const segments = text.split("/");
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i] ?? "";
    if (SECRET_DIRECTORIES.has(segment)) return `${segment} directory`;
    if (SECRET_FILES.has(segment)) return "credential file";
    if (segment.startsWith(".env") && ENV_FILE.test(segment)) return "environment file";
    const child = SECRET_PAIRS.get(segment);
    if (child !== undefined && segments[i + 1] === child) return `${segment}/${child}`;
  }
  return undefined;
}
