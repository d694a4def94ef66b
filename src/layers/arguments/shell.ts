// The command detectors. A command line is read the way a POSIX shell reads it (quotes, escapes) and
// refused when it would chain, pipe, redirect, substitute or expand, or pass an option that runs code
// or writes files. An operand (one positional argument) is refused for any metacharacter or a leading dash.
import { CONTROL_CHARACTER, finding, type Finding } from "./findings.ts";

/**
 * Options that make common programs run other programs or write where the caller says: git's
 * upload-pack and config overrides, find's -exec, tar's command hooks, ssh's ProxyCommand, ….
 */
const DANGEROUS_OPTIONS = new Set([
  "--upload-pack",
  "--receive-pack",
  "--exec",
  "--exec-path",
  "-exec",
  "-execdir",
  "-ok",
  "-okdir",
  "-fprint",
  "-fprintf",
  "-fls",
  "--to-command",
  "--checkpoint-action",
  "--use-compress-program",
  "--rsh-command",
  "--rmt-command",
  "--rsync-path",
  "--rsh",
  "--pre",
  "--open-files-in-pager",
  "--ext-diff",
  "--textconv",
  "--template",
  "--post-file",
  "--config",
  "--unzip-command",
]);

/** Configuration keys that name a program to run (git -c, ssh -o, curl --config files). */
const DANGEROUS_SETTING =
  /(?:^|[\s=])(?:core\.(?:sshcommand|pager|editor|fsmonitor|hookspath|gitproxy|askpass)|credential\.helper|uploadpack\.|protocol\.[a-z0-9-]*\.?allow|alias\.|(?:diff|filter|merge)\.[^=\s]*\.(?:command|textconv|clean|smudge|process|driver)|proxycommand|localcommand|permitlocalcommand)/i;

/** Characters that would act if the quotes around them closed the server's quotes instead. */
const QUOTED_METACHARACTER = /[;&|<>`\n\r]/;
/** Percent-encoded line breaks and NUL: a server that decodes its input gets a second command. */
const ENCODED_CONTROL = /%0[0ad]/i;

interface Words {
  readonly words: string[];
  readonly finding?: Finding;
}

/** Splits a command line into words as a shell would, or finds what a shell would run besides. */
function shellWords(text: string): Words {
  const words: string[] = [];
  let word = "";
  let inWord = false;
  let quote: "'" | '"' | undefined;
  /** The open quote is glued to a word or starts the value: it may close the server's own quotes. */
  let edge = false;
  const fail = (rule: string, detail: string): Words => ({ words, finding: finding(rule, detail) });
  const breakout = (): Words =>
    fail(
      "shell-quote-breakout",
      "a metacharacter in quotes at a word's edge (it escapes the server's quotes)",
    );
  if (ENCODED_CONTROL.test(text)) return fail("shell-control-character", "an encoded line break or NUL");
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] ?? "";
    if (quote && edge && QUOTED_METACHARACTER.test(ch)) return breakout();
    if (quote === "'") {
      if (ch === "'") quote = undefined;
      else word += ch;
      continue;
    }
    if (ch === "\\") {
      const next = text[i + 1];
      if (next === undefined) return fail("shell-unbalanced-quote", "a trailing backslash");
      if (next === "\n" || next === "\r") return fail("shell-metacharacter", "a line continuation");
      word += next;
      inWord = true;
      i++;
      continue;
    }
    if (ch === "`") return fail("shell-substitution", "a command substitution (backticks)");
    if (ch === "$") {
      const next = text[i + 1] ?? "";
      if (next === "(") return fail("shell-substitution", "a command substitution `$(…)`");
      // Unquoted, `$'…'` and `$"…"` are expansions too; inside double quotes `$"` is a plain dollar.
      const expands = quote === '"' ? /[A-Za-z0-9_{@*#?$!-]/ : /[A-Za-z0-9_{@*#?$!'"[-]/;
      if (expands.test(next)) return fail("shell-expansion", "a parameter expansion `$…`");
    }
    if (quote === '"') {
      if (ch === '"') quote = undefined;
      else word += ch;
      continue;
    }
    if (ch === "'" || ch === '"') {
      quote = ch;
      edge = text.slice(0, i).trim() === "" || /[\w)]/.test(text[i - 1] ?? "");
      inWord = true;
      continue;
    }
    if (ch === "\u0000" || (CONTROL_CHARACTER.test(ch) && ch !== "\t" && ch !== "\n" && ch !== "\r"))
      return fail("shell-control-character", "a control character");
    if (/[;&|<>(){}\n\r]/.test(ch)) return fail("shell-metacharacter", metacharacterName(ch));
    if (ch === " " || ch === "\t") {
      if (inWord) words.push(word);
      word = "";
      inWord = false;
      continue;
    }
    word += ch;
    inWord = true;
  }
  if (quote) return fail("shell-unbalanced-quote", "an unterminated quote");
  if (inWord) words.push(word);
  return { words };
}

function metacharacterName(ch: string): string {
  switch (ch) {
    case ";":
      return "a command separator `;`";
    case "&":
      return "a background or `&&` operator";
    case "|":
      return "a pipe or `||` operator";
    case "<":
    case ">":
      return "a redirection";
    case "\n":
    case "\r":
      return "a line break (a second command)";
    default:
      return `a shell grouping character \`${ch}\``;
  }
}

/** Programs that read their next argument as a command line of their own (`sh -c '…'`). */
const SHELLS = new Set(["sh", "bash", "zsh", "dash", "ksh", "ash", "fish", "busybox", "cmd", "cmd.exe"]);
const POWERSHELLS = new Set(["powershell", "powershell.exe", "pwsh", "pwsh.exe"]);
const MAX_NESTING = 3;

export function checkCommand(value: string, nesting = 0): Finding | undefined {
  const { words, finding: problem } = shellWords(value);
  if (problem) return problem;
  return checkOptions(words) ?? checkNested(words, nesting);
}

/**
 * A shell inside the command (`bash -c '…'`, `cmd /c …`, `powershell -Command …`, `eval …`) gets
 * its script checked as a command line too: quoting it must not hide what it runs.
 */
function checkNested(words: readonly string[], nesting: number): Finding | undefined {
  for (let i = 0; i < words.length; i++) {
    const program = (words[i] ?? "").replace(/^.*[\\/]/, "").toLowerCase();
    let script: string | undefined;
    if (program === "eval") script = words.slice(i + 1).join(" ");
    else if (SHELLS.has(program)) {
      const flag = words.findIndex((w, j) => j > i && /^(?:-[a-z]*c[a-z]*|\/[ck])$/i.test(w));
      if (flag > i) script = words.slice(flag + 1).join(" ");
    } else if (POWERSHELLS.has(program)) {
      const flag = words.findIndex((w, j) => j > i && /^[-/](?:c|command|e|ec|enc|encodedcommand)$/i.test(w));
      if (flag > i && /^[-/]e/i.test(words[flag] ?? ""))
        return finding("shell-encoded-command", "an encoded PowerShell command");
      if (flag > i) script = words.slice(flag + 1).join(" ");
    }
    if (script === undefined) continue;
    if (nesting >= MAX_NESTING) return finding("shell-substitution", "shells nested too deeply to check");
    return checkCommand(script, nesting + 1);
  }
  return undefined;
}

function checkOptions(words: readonly string[]): Finding | undefined {
  for (let i = 0; i < words.length; i++) {
    const word = words[i] ?? "";
    const option = optionName(word);
    if (option && DANGEROUS_OPTIONS.has(option))
      return finding("argument-injection", `an option that runs programs or writes files (${option})`);
    if (DANGEROUS_SETTING.test(word))
      return finding("argument-injection", "a setting that names a program to run");
    // `ssh -oProxyCommand=…` and `git -c core.sshCommand=…` glued to their option.
    if (/^-[oc][A-Za-z]/.test(word) && DANGEROUS_SETTING.test(word.slice(2)))
      return finding("argument-injection", "a setting that names a program to run");
  }
  return undefined;
}

/** `--output=x` → `--output`, `-exec` → `-exec`; undefined for a word that is not an option. */
function optionName(word: string): string | undefined {
  if (!word.startsWith("-") || word === "-" || word === "--") return undefined;
  const equals = word.indexOf("=");
  return (equals < 0 ? word : word.slice(0, equals)).toLowerCase();
}

/** Characters that end or escape an operand wherever a server places it in a command line. */
// eslint-disable-next-line no-control-regex -- NUL is one of the characters refused
const OPERAND_METACHARACTER = /[;&|<>()`$'"\\\n\r\u0000]/;

export function checkOperand(value: string): Finding | undefined {
  // A dash after whitespace too: a server that splits the value into words gets an option.
  if (/(?:^|\s)-/.test(value))
    return finding("argument-injection", "a word starting with a dash (read as an option)");
  if (ENCODED_CONTROL.test(value)) return finding("shell-control-character", "an encoded line break or NUL");
  const found = OPERAND_METACHARACTER.exec(value);
  if (found) return finding("shell-metacharacter", "a shell metacharacter in a single argument");
  if (CONTROL_CHARACTER.test(value)) return finding("shell-control-character", "a control character");
  return undefined;
}
