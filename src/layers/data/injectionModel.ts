// The learned injection score: a linear model (content/linearModel.ts) trained by
// `npm run train:models` on the result corpora, reading a text's words and character runs together
// with the rules and directive features that fired in it.

import { featureSlots, loadModel, modelScore, wordCount } from "../../content/linearModel.ts";
import { INJECTION_MODEL } from "./injectionWeights.ts";

const model = loadModel(INJECTION_MODEL);

/**
 * Texts up to this length are read whole, as the model was trained (its corpora are a few thousand
 * characters at most); a longer one is read in overlapping windows and scored by its worst window,
 * so that one planted paragraph is not drowned out by the pages around it.
 */
const WINDOW = 4000;
const STEP = 3000;

/**
 * A text shorter than this is left to the rules: a sentence or two is too little for the model to
 * weigh ("The assistant replied with the summary." reads like an address to the model).
 */
export const MIN_MODEL_WORDS = 20;

/**
 * The model's score of a text (0.5 at its operating point), the rules' findings given as `tokens`;
 * undefined for a text too short for the model.
 */
export function learnedInjectionScore(text: string, tokens: readonly string[]): number | undefined {
  if (wordCount(text) < MIN_MODEL_WORDS) return undefined;
  if (text.length <= WINDOW) return modelScore(model, featureSlots(text, tokens));
  let worst = 0;
  for (let start = 0; start < text.length; start += STEP) {
    worst = Math.max(worst, modelScore(model, featureSlots(text.slice(start, start + WINDOW), tokens)));
    if (start + WINDOW >= text.length) break;
  }
  return worst;
}
