// Assembles the message stage from the config: one line per layer, in chain order.
import type { Logger } from "pino";
import type { GatewayConfig } from "../config/schema.ts";
import type { Layer } from "../pipeline/types.ts";
import { decisionLog } from "./decision-log/index.ts";

export interface LayerDependencies {
  readonly config: GatewayConfig;
  readonly logger: Logger;
}

export function assembleLayers(deps: LayerDependencies): Layer[] {
  const layers: Layer[] = [];
  if (deps.config.logging.decisions) layers.push(decisionLog({ logger: deps.logger }));
  return layers;
}
