// The read-only SQL detector, for an argument that is a whole statement (a database server's query
// tool): one statement, starting with a read (SELECT, WITH, EXPLAIN, SHOW, VALUES, …), with no
// write, lock or side-effecting function anywhere in it. The statement is tokenised twice, as
// PostgreSQL and as MySQL read quotes, so that no dialect's quoting can hide a second statement.
import { finding, type Finding } from "./findings.ts";

interface Dialect {
  /** Backslash escapes inside '…' and "…" (MySQL); otherwise only inside E'…' (PostgreSQL). */
  readonly backslash: boolean;
  /** $tag$…$tag$ strings (PostgreSQL). */
  readonly dollar: boolean;
}

const DIALECTS: readonly Dialect[] = [
  { backslash: false, dollar: true },
  { backslash: true, dollar: false },
];

type Token = { readonly kind: "word" | "punct" | "literal"; readonly text: string };

const READ_STARTERS = new Set(["select", "with", "explain", "show", "describe", "desc", "values", "table"]);

/** Words that write, wherever they stand in the statement (a data-modifying CTE, SELECT INTO, FOR UPDATE). */
const WRITE_WORDS = new Set([
  "insert",
  "update",
  "delete",
  "merge",
  "upsert",
  "replace",
  "into",
  "truncate",
  "drop",
  "alter",
  "create",
  "grant",
  "revoke",
  "copy",
  "call",
  "exec",
  "execute",
]);

/** Functions with side effects: sleeping, sequences, files, other connections, server control. */
const SIDE_EFFECT_FUNCTIONS = new Set([
  "sleep",
  "pg_sleep",
  "pg_sleep_for",
  "pg_sleep_until",
  "benchmark",
  "setval",
  "nextval",
  "set_config",
  "lo_import",
  "lo_export",
  "lo_unlink",
  "lo_from_bytea",
  "lo_put",
  "pg_read_file",
  "pg_read_binary_file",
  "pg_ls_dir",
  "pg_stat_file",
  "pg_terminate_backend",
  "pg_cancel_backend",
  "pg_reload_conf",
  "pg_rotate_logfile",
  "pg_promote",
  "pg_switch_wal",
  "pg_advisory_lock",
  "pg_advisory_xact_lock",
  "pg_try_advisory_lock",
  "pg_try_advisory_xact_lock",
  "dblink",
  "dblink_exec",
  "dblink_connect",
  "dblink_send_query",
  "query_to_xml",
  "query_to_xml_and_xmlschema",
  "cursor_to_xml",
  "load_file",
  "load_extension",
  "writefile",
  "readfile",
  "edit",
  "fts3_tokenizer",
  "xp_cmdshell",
  "xp_dirtree",
  "xp_fileexist",
  "xp_regread",
  "sp_oacreate",
  "openrowset",
  "opendatasource",
  "openquery",
]);

export function checkSqlReadonly(sql: string): Finding | undefined {
  for (const dialect of DIALECTS) {
    const tokens = tokenise(sql, dialect);
    if (!Array.isArray(tokens)) return tokens;
    const problem = checkTokens(tokens);
    if (problem) return problem;
  }
  return undefined;
}

function checkTokens(tokens: readonly Token[]): Finding | undefined {
  let statements = 0;
  let fresh = true;
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i] as Token;
    if (token.kind === "punct" && token.text === ";") {
      fresh = true;
      continue;
    }
    if (fresh) {
      fresh = false;
      statements++;
      if (statements > 1) return finding("sql-readonly-multiple", "more than one statement");
      if (!(token.kind === "word" && READ_STARTERS.has(token.text)) && token.text !== "(")
        return finding("sql-readonly-write", "a statement that is not a read (SELECT, WITH, EXPLAIN, SHOW)");
    }
    if (token.kind !== "word") continue;
    const previous = tokens[i - 1];
    const next = tokens[i + 1];
    // `t.update` is a column, not a keyword.
    if (previous?.kind === "punct" && previous.text === ".") continue;
    if (next?.kind === "punct" && next.text === "(") {
      if (SIDE_EFFECT_FUNCTIONS.has(token.text))
        return finding("sql-readonly-function", "a function with side effects (sleep, files, sequences, …)");
      continue;
    }
    if (/^(?:utl|dbms)_/.test(token.text))
      return finding("sql-readonly-function", "an Oracle package with side effects");
    if (WRITE_WORDS.has(token.text))
      return finding("sql-readonly-write", `a write (${token.text.toUpperCase()}) inside the statement`);
    if (token.text === "for" && (next?.text === "share" || next?.text === "key" || next?.text === "no"))
      return finding("sql-readonly-write", "a row lock (FOR SHARE)");
    if (token.text === "lock" && next?.text === "in")
      return finding("sql-readonly-write", "a row lock (LOCK IN)");
  }
  if (statements === 0) return finding("sql-readonly-write", "no statement");
  return undefined;
}

const DOLLAR_TAG = /\$(?:[A-Za-z_]\w{0,62})?\$/y;

/** The dollar-quote tag (`$$`, `$fn$`) at `index`, or undefined. */
function dollarTag(sql: string, index: number): string | undefined {
  DOLLAR_TAG.lastIndex = index;
  return DOLLAR_TAG.exec(sql)?.[0];
}

function isSpace(code: number): boolean {
  return (
    code === 32 ||
    (code >= 9 && code <= 13) ||
    code === 0xa0 ||
    code === 0xfeff ||
    (code >= 0x2000 && code <= 0x200a)
  );
}

/** Letters, `_` and anything beyond ASCII start a word; digits and `$` continue one. */
function isWordStart(code: number): boolean {
  return (code >= 97 && code <= 122) || (code >= 65 && code <= 90) || code === 95 || code >= 0x80;
}

function isDigit(code: number): boolean {
  return code >= 48 && code <= 57;
}

/** Where the run of characters that `accepts` starting at `index` ends. */
function runEnd(sql: string, index: number, accepts: (code: number) => boolean): number {
  let end = index;
  while (end < sql.length && accepts(sql.charCodeAt(end))) end++;
  return end;
}

const inWord = (code: number) => isWordStart(code) || isDigit(code) || code === 36;
const inNumber = (code: number) => isWordStart(code) || isDigit(code) || code === 46;

function tokenise(sql: string, dialect: Dialect): Token[] | Finding {
  const tokens: Token[] = [];
  const n = sql.length;
  let i = 0;
  while (i < n) {
    const ch = sql[i] as string;
    const next = sql[i + 1];
    const code = sql.charCodeAt(i);
    if (isSpace(code)) {
      i = runEnd(sql, i, isSpace);
    } else if (ch === "-" && next === "-") {
      const end = sql.indexOf("\n", i);
      i = end < 0 ? n : end + 1;
    } else if (ch === "/" && next === "*") {
      // MySQL runs the body of /*! … */ (and /*M! … */); a nested /* in PostgreSQL only hides less than we skip.
      if (sql[i + 2] === "!" || sql.startsWith("M!", i + 2))
        return finding("sql-readonly-executable-comment", "an executable comment (/*! … */)");
      const end = sql.indexOf("*/", i + 2);
      if (end < 0) return finding("sql-unterminated", "an unterminated comment");
      i = end + 2;
    } else if (ch === "'" || ch === '"' || ch === "`") {
      // E'…' (PostgreSQL) takes backslash escapes whatever the dialect.
      const escapeString = ch === "'" && /[eE]/.test(sql[i - 1] ?? "") && tokens.at(-1)?.text === "e";
      if (escapeString) tokens.pop();
      const end = quotedEnd(sql, i, ch, ch !== "`" && (dialect.backslash || escapeString));
      if (end < 0) return finding("sql-unterminated", "an unterminated quote");
      tokens.push({ kind: "literal", text: ch });
      i = end + 1;
    } else if (ch === "$" && dialect.dollar && dollarTag(sql, i)) {
      const tag = dollarTag(sql, i) as string;
      const end = sql.indexOf(tag, i + tag.length);
      if (end < 0) return finding("sql-unterminated", "an unterminated dollar-quoted string");
      tokens.push({ kind: "literal", text: "$" });
      i = end + tag.length;
    } else if (isWordStart(code)) {
      const end = runEnd(sql, i, inWord);
      tokens.push({ kind: "word", text: sql.slice(i, end).toLowerCase() });
      i = end;
    } else if (isDigit(code)) {
      i = runEnd(sql, i, inNumber);
      tokens.push({ kind: "literal", text: "0" });
    } else {
      tokens.push({ kind: "punct", text: ch });
      i++;
    }
  }
  return tokens;
}

/** The index of the quote that closes the one at `start` (doubling escapes; backslashes if asked), or -1. */
function quotedEnd(sql: string, start: number, quote: string, backslash: boolean): number {
  for (let i = start + 1; i < sql.length; i++) {
    const ch = sql[i];
    if (backslash && ch === "\\") {
      i++;
      continue;
    }
    if (ch === quote) {
      if (sql[i + 1] === quote) {
        i++;
        continue;
      }
      return i;
    }
  }
  return -1;
}
