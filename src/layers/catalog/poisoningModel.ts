// The learned poisoning score: a linear model (content/linearModel.ts) trained by
// `npm run train:models` on the definition corpora, reading a definition's names and prose with the
// rules and directive features that fired in it. It finds poisoning beside the rules, never instead.

import { featureSlots, loadModel, modelScore } from "../../content/linearModel.ts";
import { POISONING_MODEL } from "./poisoningWeights.ts";

/** The rule a definition the model finds poisoned is reported under; it weighs the threshold. */
export const LEARNED_POISONING_RULE = "poison.learned-model";

const model = loadModel(POISONING_MODEL);

/**
 * A definition with less prose than this is left to the rules: a sentence or two is too little for
 * the model to weigh ("Trigger a Request from the Server for LLM Sampling", "The prompt to send to
 * the LLM" reads much like an order to hand something over).
 */
export const MIN_MODEL_WORDS = 30;

/**
 * The model's score of a definition (0.5 at its operating point), the rules' findings given as
 * tokens; undefined for a definition with too little prose for the model.
 */
export function learnedPoisoningScore(input: {
  readonly text: string;
  readonly tokens: readonly string[];
  readonly words: number;
}): number | undefined {
  if (input.words < MIN_MODEL_WORDS) return undefined;
  return modelScore(model, featureSlots(input.text, input.tokens));
}
