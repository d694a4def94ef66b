// Shadowing across upstreams: names that a reader could take for one another once case, separators,
// NFKC forms and look-alike letters are folded (`read_file`, `Read-File`, `reаd_file` with a Cyrillic
// "а"), identical names on several upstreams, and descriptions that name another upstream's tools or
// the upstream itself ("when send_email is used…", "the gmail server").
import { SHADOW_RULES } from "./rules.ts";
import { foldName, isPlainName } from "./text.ts";

export interface ShadowEntry {
  readonly upstream: string;
  /** The upstream's own name of the tool or prompt. */
  readonly name: string;
  /** The normalised prose of its definition (descriptions, titles; not names). */
  readonly text: string;
  /** A trusted upstream keeps a contested name, and its texts may name other upstreams' tools. */
  readonly trusted: boolean;
}

export interface ShadowFinding {
  readonly rule: string;
  /** The other upstream's tool, or the upstream itself, this entry collides with or speaks about. */
  readonly other: { readonly upstream: string; readonly name?: string };
  readonly excerpt?: string;
}

/** Identifier-like words: candidates for a tool name mentioned in a text. */
const IDENTIFIER = /(?<![\w.-])[A-Za-z_][\w.-]*[\w]/g;

/**
 * The shadowing findings of each entry (by index). `entries` is in catalogue order (the order of
 * upstreams in the config): among names that collide, a trusted upstream's, then a plain ASCII one,
 * then the first keeps the name; the others are findings.
 */
export function findShadowing(
  entries: readonly ShadowEntry[],
  options: {
    /** Every tool and prompt name of every upstream: what a text may refer to. Default: the entries'. */
    readonly names?: readonly { readonly upstream: string; readonly name: string }[];
    /** Look for colliding names (tools, prompts); resources are only read for references. */
    readonly collisions?: boolean;
  } = {},
): Map<number, ShadowFinding[]> {
  const findings = new Map<number, ShadowFinding[]>();
  const add = (index: number, finding: ShadowFinding) => {
    const list = findings.get(index);
    if (list) list.push(finding);
    else findings.set(index, [finding]);
  };
  if (options.collisions ?? true) collisions(entries, add);
  crossReferences(entries, options.names ?? entries, add);
  return findings;
}

function collisions(entries: readonly ShadowEntry[], add: (index: number, f: ShadowFinding) => void): void {
  const groups = new Map<string, number[]>();
  entries.forEach((entry, index) => {
    const key = foldName(entry.name);
    if (key === "") return;
    const group = groups.get(key);
    if (group) group.push(index);
    else groups.set(key, [index]);
  });
  for (const group of groups.values()) {
    if (group.length < 2) continue;
    const owner = [...group].sort((a, b) => rank(entries, a) - rank(entries, b))[0] ?? group[0]!;
    const kept = entries[owner]!;
    for (const index of group) {
      const entry = entries[index]!;
      if (index === owner || entry.upstream === kept.upstream) continue;
      add(index, {
        rule: entry.name === kept.name ? SHADOW_RULES.duplicate : SHADOW_RULES.confusable,
        other: { upstream: kept.upstream, name: kept.name },
        excerpt: entry.name,
      });
    }
  }
}

/** Lower ranks keep a contested name: trusted upstreams, then names as plain ASCII, then catalogue order. */
function rank(entries: readonly ShadowEntry[], index: number): number {
  const entry = entries[index]!;
  return (entry.trusted ? 0 : 2) * 1e9 + (isPlainName(entry.name) ? 0 : 1e9) + index;
}

function crossReferences(
  entries: readonly ShadowEntry[],
  names: readonly { readonly upstream: string; readonly name: string }[],
  add: (index: number, f: ShadowFinding) => void,
): void {
  // Which upstreams offer each name. A name written like an identifier (send_email, sendEmail) is
  // looked for anywhere; a plain word (fetch) only quoted or followed by "tool".
  const owners = new Map<string, Set<string>>();
  for (const { upstream, name } of names) {
    let set = owners.get(name);
    if (!set) owners.set(name, (set = new Set()));
    set.add(upstream);
  }
  const upstreams = [...new Set([...names, ...entries].map((e) => e.upstream))];
  const serverMention =
    upstreams.length > 1
      ? new RegExp(
          `\\bthe\\s+(${upstreams.map(escape).join("|")})\\s+(?:mcp\\s+)?(?:server|tools)\\b|\\b(${upstreams.map(escape).join("|")})\\s+mcp\\b`,
          "gi",
        )
      : undefined;
  entries.forEach((entry, index) => {
    if (entry.trusted || entry.text === "") return;
    const reported = new Set<string>();
    for (const match of entry.text.matchAll(IDENTIFIER)) {
      const word = match[0];
      const offering = owners.get(word);
      if (!offering || offering.has(entry.upstream) || reported.has(word)) continue;
      if (!identifierLike(word) && !quotedOrTool(entry.text, match.index, word.length)) continue;
      reported.add(word);
      const other = [...offering][0] ?? "";
      add(index, {
        rule: SHADOW_RULES.crossReference,
        other: { upstream: other, name: word },
        excerpt: word,
      });
    }
    if (!serverMention) return;
    for (const match of entry.text.matchAll(serverMention)) {
      const named = (match[1] ?? match[2] ?? "").toLowerCase();
      const other = upstreams.find((u) => u.toLowerCase() === named);
      if (!other || other === entry.upstream || reported.has(`server:${other}`)) continue;
      reported.add(`server:${other}`);
      add(index, { rule: SHADOW_RULES.crossReference, other: { upstream: other }, excerpt: match[0] });
    }
  });
}

function identifierLike(name: string): boolean {
  return /[_.-]/.test(name) || /[a-z][A-Z]/.test(name);
}

function quotedOrTool(text: string, start: number, length: number): boolean {
  const before = text[start - 1] ?? "";
  const after = text.slice(start + length, start + length + 6);
  return (/[`'"]/.test(before) && /^[`'"]/.test(after)) || /^\s+tool/i.test(after);
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
