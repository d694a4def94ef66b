// Privilege probing: one principal (from one address) repeatedly refused on high-risk tools, or
// asking for high-risk tools that do not exist: someone mapping what they could get away with.
import type { DetectionConfig } from "../../config/detectionSchema.ts";
import { isUpstreamFault } from "../../errors.ts";
import { namePatterns } from "../../federation/namePattern.ts";
import type { Detection, Detector } from "./types.ts";
import { subjectOf, toolCallFacts } from "./types.ts";
import { SlidingCounter } from "./windows.ts";

/** Outcomes that mean "you may not" or "there is no such tool", as opposed to a failing tool. */
const refusalCodes = new Set(["PORTCULLIS_E_UNKNOWN_TOOL", "PORTCULLIS_E_DENIED"]);

export function privilegeProbingDetector(config: DetectionConfig): Detector {
  const { denials, windowMs, highRiskTools } = config.privilegeProbing;
  const highRisk = namePatterns(highRiskTools);
  const refusals = new SlidingCounter(windowMs, denials, config.maxSubjects);
  return {
    kind: "privilege_probing",
    observe(event, now): Detection | undefined {
      const call = toolCallFacts(event);
      if (!call || !(call.destructive || highRisk(call.tool))) return undefined;
      // The upstream's doing is no refusal, whichever layer said so (a restart's window, a rug pull).
      const refused =
        !isUpstreamFault(call.errorCode) &&
        (call.verdict === "deny" ||
          call.verdict === "challenge" ||
          (call.errorCode !== undefined && refusalCodes.has(call.errorCode)));
      const subject = subjectOf(event.ctx);
      if (!refused || !subject) return undefined;
      const key = `${subject}|${event.ctx?.clientAddress ?? ""}`;
      if (refusals.add(key, now) < denials) return undefined;
      refusals.reset(key);
      return {
        kind: "privilege_probing",
        severity: "high",
        key: `subject:${key}`,
        summary: `${denials} refused calls to high-risk tools by ${subject} within ${windowMs} ms (last: ${call.tool})`,
        ctx: event.ctx,
        details: { subject, lastTool: call.tool, denials, windowMs },
      };
    },
  };
}
