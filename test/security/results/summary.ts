// Rates of the injection rules at a given threshold over the main, dev and held-out sets: what an
// operator trades by moving `dataGuard.injection.threshold`.
import { scoreInjection } from "../../../src/layers/data/injection.ts";
import { findExfilLinks } from "../../../src/layers/data/links.ts";
import type { CorpusItem } from "../secrets/random.ts";
import { resultBenign } from "./benign.ts";
import { devAttacks, devBenign, heldoutAttacks, heldoutBenign } from "./heldout.ts";
import { injectionAttacks } from "./injections.ts";

export interface Rates {
  readonly attacks: number;
  readonly benign: number;
  readonly detection: number;
  readonly falsePositives: number;
}

function scoreOf(text: string): number {
  const links = findExfilLinks(text, () => false);
  return scoreInjection(text, [...new Set(links.map((link) => link.rule))]).score;
}

function share(items: readonly CorpusItem[], threshold: number): number {
  return items.filter((item) => scoreOf(item.text) >= threshold).length / Math.max(1, items.length);
}

const percent = (value: number) => `${(value * 100).toFixed(1)} %`;

export function benignSetsSummary(threshold: number): string {
  const sets = [
    ["main", injectionAttacks(), resultBenign()],
    ["dev", devAttacks(), devBenign()],
    ["held-out", heldoutAttacks(), heldoutBenign()],
  ] as const;
  const parts = sets.map(
    ([name, attacks, benign]) =>
      `${name} ${percent(share(attacks, threshold))} / ${percent(share(benign, threshold))}`,
  );
  return `threshold ${threshold.toFixed(2)} (detected / false positives): ${parts.join(", ")}`;
}
