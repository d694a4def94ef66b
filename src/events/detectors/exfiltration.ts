// Exfiltration suspicion: a principal receives a sensitive result (a tool listed as sensitive, or a
// result the data layer labelled so) and, within the window, calls a tool that carries data out
// (listed as a sink, or annotated openWorldHint: true). Stopping such a flow in-line is the data
// layer's session taint; this detector raises it so the playbook can respond.
import type { DetectionConfig } from "../../config/detectionSchema.ts";
import { namePatterns } from "../../federation/namePattern.ts";
import type { Detection, Detector } from "./types.ts";
import { subjectOf, toolCallFacts } from "./types.ts";
import { BoundedMap } from "./windows.ts";

const sensitiveLabels = new Set(["sensitive", "secret", "pii", "confidential"]);

export function exfiltrationDetector(config: DetectionConfig): Detector {
  const { windowMs, sensitiveTools, sinkTools } = config.exfiltration;
  const isSensitive = namePatterns(sensitiveTools);
  const isSink = namePatterns(sinkTools);
  const lastSensitive = new BoundedMap<{ at: number; tool: string }>(config.maxSubjects);
  return {
    kind: "exfiltration_suspected",
    observe(event, now): Detection | undefined {
      const call = toolCallFacts(event);
      const subject = subjectOf(event.ctx);
      if (!call || !subject || call.verdict !== "allow") return undefined;
      const sink = call.openWorld || isSink(call.tool);
      const source = lastSensitive.get(subject);
      let found: Detection | undefined;
      if (sink && source && now - source.at <= windowMs) {
        found = {
          kind: "exfiltration_suspected",
          severity: "high",
          key: `subject:${subject}`,
          summary: `${subject} called ${call.tool} ${Math.round((now - source.at) / 1000)} s after a sensitive result from ${source.tool}`,
          ctx: event.ctx,
          details: { subject, source: source.tool, sink: call.tool, afterMs: now - source.at },
        };
      }
      if (isSensitive(call.tool) || call.labels.some((l) => sensitiveLabels.has(l.toLowerCase()))) {
        lastSensitive.set(subject, { at: now, tool: call.tool });
      }
      return found;
    },
  };
}
