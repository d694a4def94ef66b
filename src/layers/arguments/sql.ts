// The SQL injection detector, for a value a server places into a SQL statement (a name, an id, a
// search term). Signatures that need a quote to escape the server's string count only at a quote that
// would close it (the 1st, 3rd, … of its kind), so apostrophes and quoted words in names pass.
import { finding, type Finding } from "./findings.ts";

interface Signature {
  readonly rule: string;
  readonly detail: string;
  readonly pattern: RegExp;
  /** Fires only where the match starts at a quote that closes the server's string literal. */
  readonly breakout?: boolean;
}

/** What follows SELECT in an injected query: a column list, `*`, a number, a function, a FROM. */
const SELECT_TAIL = String.raw`select\s*(?:\(|\*|null\b|\d|@@|(?:all|distinct|top\s+\d+)(?:\s|$)|[\w.$]{1,64}\s*(?:,|\(|\bfrom\b|--|#|\/\*)|'[^']{0,40}'\s*(?:,|\bfrom\b|--|#))`;
const COMPARISON = String.raw`(?:=|<>|!=|<|>|\blike\b|\bis\b|\brlike\b|\bregexp\b|\bbetween\b|\bin\s*\()`;
const QUOTE = String.raw`['"]\s*\)*\s*`;
const BOOLEAN = String.raw`(?:(?:or|and|xor)\b|\|\||&&)`;

const SIGNATURES: readonly Signature[] = [
  {
    rule: "sql-tautology",
    detail: "a quote followed by a boolean condition",
    pattern: new RegExp(String.raw`${QUOTE}${BOOLEAN}[^;]{0,60}?${COMPARISON}`, "g"),
    breakout: true,
  },
  {
    rule: "sql-tautology",
    detail: "a quote followed by a condition that ends the statement",
    pattern: new RegExp(
      String.raw`${QUOTE}${BOOLEAN}\s*(?:not\s+)?(?:true|false|null|\d+|'[^']{0,20}'|"[^"]{0,20}")?\s*(?:--|#|\/\*|;|$)`,
      "g",
    ),
    breakout: true,
  },
  {
    rule: "sql-tautology",
    detail: "a quote followed by a comparison",
    pattern: new RegExp(
      String.raw`['"]\s*(?:=|<>|!=|\blike\b)\s*(?:['"][^'"]{0,20}['"]?|\d{1,20}|\w{1,64}\s*\()\s*(?:--|#|\/\*|;|$)`,
      "g",
    ),
    breakout: true,
  },
  {
    rule: "sql-tautology",
    detail: "a quote followed by an operator on strings (MySQL coerces them to numbers)",
    pattern: new RegExp(
      String.raw`['"]\s*(?:[-+*&^|%/]\s*['"]|\s['"]\s*$)|${QUOTE}${BOOLEAN}\s*['"][^'"]{0,20}['"]\s*(?:[-+*&^|%/ ]\s*)?['"]|${QUOTE}${BOOLEAN}\s*(?:['"]\s*)?$`,
      "g",
    ),
    breakout: true,
  },
  {
    rule: "sql-tautology",
    detail: "a quote followed by a condition on a function",
    pattern: new RegExp(String.raw`${QUOTE}${BOOLEAN}\s*\(?\s*(?:\w{1,64}\s*\([^)]{0,40}\)|exists\b)`, "g"),
    breakout: true,
  },
  {
    rule: "sql-comment",
    detail: "a quote followed by a comment (the rest of the statement cut off)",
    pattern: new RegExp(String.raw`${QUOTE}(?:--|#(?:\s|$)|\/\*|;\s*(?:--|#|$))`, "g"),
    breakout: true,
  },
  {
    rule: "sql-quote-breakout",
    detail: "a quote followed by SQL (a second statement, UNION, ORDER BY, concatenation)",
    pattern: new RegExp(
      String.raw`${QUOTE}(?:[^;]{0,40}?\(\s*${SELECT_TAIL}|;|\bunion\b|\border\s+by\b|\bgroup\s+by\b|\bhaving\b|\blimit\s+\d|\bprocedure\b|\binto\s+(?:out|dump)file\b|\bwhere\b|\|\|\s*(?:\(|['"]|\w{1,64}\s*\()|\+\s*\(|&&)`,
      "g",
    ),
    breakout: true,
  },
  {
    rule: "sql-union",
    detail: "UNION SELECT",
    pattern: new RegExp(
      String.raw`\bunion\b(?:\s+(?:all|distinct))?\s*\(*\s*(?:${SELECT_TAIL}|select\s*$)`,
      "g",
    ),
  },
  {
    rule: "sql-stacked-query",
    detail: "a second statement after `;`",
    pattern: new RegExp(
      String.raw`;\s*(?:(?:drop|truncate|alter|create|rename)\s+(?:table|database|schema|user|index|view|function|procedure|trigger|role|login|column)\b|delete\s+from\b|insert\s+into\b|update\s+[\w.$"\x60\[\]]{1,64}\s+set\b|${SELECT_TAIL}|exec(?:ute)?\s*(?:\(|@|master\.|xp_|sp_|immediate\b)|declare\s+@|shutdown\b|waitfor\s+(?:delay|time)\b|grant\s+(?:all|select|insert|update|delete|execute|usage|dba|admin|connect|create)\b|revoke\s+\w|set\s+@|copy\s+\w+\s+(?:from|to)\b|attach\s+database\b|load\s+data\b|call\s+[\w.]+\s*\(|pragma\s+\w|merge\s+into\b)`,
      "g",
    ),
  },
  {
    rule: "sql-time-function",
    detail: "a time-delay function (blind injection)",
    pattern:
      /\b(?:sleep|pg_sleep)\s*\(\s*\d+(?:\.\d+)?\s*\)|\bpg_sleep\b|\bsleep\s*\(\s*\(\s*select\b|\bbenchmark\s*\(\s*\d+\s*,|\bwaitfor\s+(?:delay|time)\s+['"]|\bdbms_(?:pipe\.receive_message|lock\.sleep)\b|\brandomblob\s*\(\s*\d{6,}/g,
  },
  {
    rule: "sql-dangerous-function",
    detail: "a database object or function attackers use (system catalogue, files, commands)",
    pattern:
      /\b(?:load_file|xp_cmdshell|xp_dirtree|xp_regread|sp_oacreate|sp_executesql|dbms_xmlgen|extractvalue|updatexml|pg_read_file|pg_ls_dir|lo_import|lo_export|dblink_exec|dblink_connect|dblink|elt|make_set|export_set)\s*\(|\butl_(?:http|inaddr|file|tcp|smtp)\b|\bdeclare\s+@\w+\s+n?(?:var)?char\b|\bexec(?:ute)?\s*\(\s*@|--\s*sp_password|\binto\s+(?:out|dump)file\b|\binformation_schema\b|\bsqlite_(?:master|schema)\b|\bpg_(?:catalog|shadow|user)\b|\bsys(?:objects|columns)\b|\bmysql\.user\b|\bsys\.(?:objects|tables|columns|databases|sql_logins)\b|@@[a-z_]{3,}\b|\bexec(?:ute)?\s+(?:master\.|xp_|sp_)|\bchar\s*\(\s*\d+\s*\)\s*(?:\|\||\+)|\bconcat(?:_ws)?\s*\([^)]{0,40}0x[0-9a-f]+|\bcast\s*\(\s*0x[0-9a-f]+/g,
  },
  {
    rule: "sql-tautology",
    detail: "a condition that is always true or false",
    pattern: new RegExp(
      String.raw`\b(?:or|and|xor)\s+\(?\s*(['"]?)(\w{1,30})\1\s*\)?\s*(?:=|<=|>=|\blike\b|\bis\b)\s*\(?\s*n?(['"]?)\2(?:\3|(?!\w))|\b(?:or|and|xor)\s+\(?\s*\d+\s*(?:=|<>|!=|<|>|<=|>=)\s*\d+(?![\w.])|\b(?:or|xor)\s+\(?\s*(?:n?'[^']{0,30}'?|"[^"]{0,30}"?|\w{1,30})\s*\)?\s*${COMPARISON}\s*\(?\s*(?:n?'|"|\d|\w{1,64}\s*\()|\b(?:or|and)\s+(?:true|false|\d+)\s*(?:--|#|\/\*)|\bhaving\s+\d+\s*(?:=|<|>)\s*\d+`,
      "g",
    ),
  },
  {
    rule: "sql-quote-breakout",
    detail: "a number followed by SQL (injection into a numeric value)",
    pattern:
      /^\s*(?:or|and|xor)\s+(?:\w{1,64}\s*\(|\d|true\b|false\b|not\b)|^\s*(?:-?\d{1,20}\s*\)*|\)+)\s*(?:(?:or|and|xor)\s+(?:\d+\s*(?:=|<|>)|true\b|false\b|not\b|\(|select\b|sleep\b|exists\b|'|")|\|\||&&|;\s*\S|union\b|order\s+by\s+\d|group\s+by\b|having\b|procedure\b)/g,
  },
  {
    rule: "sql-subquery",
    detail: "a boolean test on a subquery or function (blind injection)",
    pattern: new RegExp(
      String.raw`\b(?:and|or|xor)\s+\(*\s*${SELECT_TAIL}|\b(?:and|or|xor)\s+\(?\s*(?:not\s+)?exists\b|\b(?:and|or|xor)\s+\S{1,30}\s+in\s*\(\s*select\b|\b(?:and|or|xor)\s+\(?\s*(?:ascii|substr|substring|mid|length|ord|elt|char|hex|bin|count|if)\s*\([^;]{0,100}?\)\s*${COMPARISON}`,
      "g",
    ),
  },
];

export function checkSql(value: string): Finding | undefined {
  for (const form of sqlForms(value)) {
    for (const signature of SIGNATURES) {
      if (matches(signature, form)) return finding(signature.rule, signature.detail);
    }
  }
  return undefined;
}

/**
 * The value in lower case with every run of whitespace as one space (so that no pattern can try a
 * long run of spaces two ways), with comment delimiters as spaces (UN/**\/ION), and percent-decoded.
 */
function sqlForms(value: string): string[] {
  const lower = value.toLowerCase().replace(/\s+/g, " ");
  const forms = [lower];
  const spaced = lower.replace(/\/\*!?\d{0,6}|\*\//g, " ");
  // Comments as spaces (MySQL), and comments gone (`UNI/**/ON` for parsers that drop them).
  if (spaced !== lower) forms.push(spaced, lower.replace(/\/\*[^*]{0,64}\*\//g, ""));
  if (/%[0-9a-f]{2}/.test(lower)) {
    try {
      const decoded = decodeURIComponent(lower.replace(/\+/g, " "));
      const spacedOut = decoded.replace(/\s+/g, " ");
      if (spacedOut !== lower) forms.push(spacedOut, spacedOut.replace(/\/\*!?\d{0,6}|\*\//g, " "));
    } catch {
      // not decodable as a whole: the raw forms are what a server sees
    }
  }
  return forms;
}

function matches(signature: Signature, text: string): boolean {
  const { pattern } = signature;
  pattern.lastIndex = 0;
  if (!signature.breakout) return pattern.test(text);
  const quotes = new QuoteCounter(text);
  for (let found = pattern.exec(text); found; found = pattern.exec(text)) {
    if (quotes.closesAt(found.index)) return true;
    pattern.lastIndex = found.index + 1;
  }
  return false;
}

/** Counts quotes in one pass, as matches come in increasing order (a quadratic recount would not do). */
class QuoteCounter {
  private readonly text: string;
  private scanned = 0;
  private single = 0;
  private double = 0;

  constructor(text: string) {
    this.text = text;
  }

  /** Whether the quote at `index` is the 1st, 3rd, … of its kind (it would close the server's literal). */
  closesAt(index: number): boolean {
    for (; this.scanned < index; this.scanned++) {
      const ch = this.text[this.scanned];
      if (ch === "'") this.single++;
      else if (ch === '"') this.double++;
    }
    return (this.text[index] === "'" ? this.single : this.double) % 2 === 0;
  }
}
