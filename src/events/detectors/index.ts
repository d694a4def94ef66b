// The detectors a config turns on.
import type { DetectionConfig } from "../../config/detectionSchema.ts";
import { anomalyDetector } from "./anomaly.ts";
import { bruteForceDetector, credentialStuffingDetector } from "./authentication.ts";
import { exfiltrationDetector } from "./exfiltration.ts";
import { privilegeProbingDetector } from "./probing.ts";
import type { Detector } from "./types.ts";

export function createDetectors(config: DetectionConfig): Detector[] {
  if (!config.enabled) return [];
  const { anomaly } = config;
  const detectors: Detector[] = [];
  if (config.bruteForce.enabled) detectors.push(bruteForceDetector(config));
  if (config.credentialStuffing.enabled) detectors.push(credentialStuffingDetector(config));
  if (config.privilegeProbing.enabled) detectors.push(privilegeProbingDetector(config));
  if (anomaly.rate.enabled || anomaly.firstUse.enabled || anomaly.unusualHours.enabled)
    detectors.push(anomalyDetector(config));
  if (config.exfiltration.enabled) detectors.push(exfiltrationDetector(config));
  return detectors;
}

export type { Detection, Detector } from "./types.ts";
