// Assembles the message stage from the config: one line per layer, in chain order. The profile
// decides which layers run: `dev` turns every layer off; `strict` (the default) and `balanced` run
// all that exist today (layers that trade checks for speed will differ between the two).
import type { Logger } from "pino";
import type { GatewayConfig } from "../config/schema.ts";
import type { Layer } from "../pipeline/types.ts";
import { decisionLog } from "./decision-log/index.ts";

export interface LayerDependencies {
  readonly config: GatewayConfig;
  readonly logger: Logger;
}

export function assembleLayers(deps: LayerDependencies): Layer[] {
  const { config } = deps;
  if (config.profile === "dev") return [];
  const layers: Layer[] = [];
  if (config.logging.decisions) layers.push(decisionLog({ logger: deps.logger }));
  return layers;
}
