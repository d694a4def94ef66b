// Name spacing of tools and prompts: `<upstream><separator><name>`, kept within the 2025-11-25
// tool-name rules (1–128 characters of A–Z, a–z, 0–9, '_', '-', '.'), collision-free.
const MAX_NAME = 128;
const invalidChars = /[^A-Za-z0-9_.-]/g;

export class NameSpacer {
  private readonly separator: string;
  private readonly prefix: boolean;

  constructor(separator: string, prefix: boolean) {
    this.separator = separator;
    this.prefix = prefix;
  }

  /** The public name of an upstream item, unique among `taken`. */
  publicName(upstream: string, name: string, taken: ReadonlyMap<string, unknown>): string {
    const base = this.prefix ? `${upstream}${this.separator}${name}` : name;
    let candidate = base.replace(invalidChars, "_").slice(0, MAX_NAME);
    if (candidate.length === 0) candidate = `${upstream}${this.separator}unnamed`;
    for (let n = 2; taken.has(candidate); n++) {
      const suffix = `_${n}`;
      candidate = candidate.slice(0, MAX_NAME - suffix.length) + suffix;
    }
    return candidate;
  }
}
