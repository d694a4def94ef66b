// Behaviour anomalies against each principal's own history: a call rate far above its moving
// baseline, the first use of a tool after the learning period, and calls at an hour of the day
// (UTC) the principal hardly ever works. History is kept in memory and starts anew with the process.
import type { DetectionConfig } from "../../config/detectionSchema.ts";
import type { Detection, Detector } from "./types.ts";
import { subjectOf, toolCallFacts } from "./types.ts";
import { BoundedMap } from "./windows.ts";
import type { StampedEvent } from "../bus.ts";

interface Profile {
  readonly firstSeen: number;
  windowStart: number;
  windowCalls: number;
  /** Exponential moving average of calls per window over the windows closed so far. */
  baseline: number;
  windowsClosed: number;
  readonly tools: Set<string>;
  readonly hours: number[];
  total: number;
}

/** Weight of the newest window in the baseline. */
const BASELINE_WEIGHT = 0.2;
/** Tools remembered per principal at most. */
const MAX_TOOLS = 2_000;

export function anomalyDetector(config: DetectionConfig): Detector {
  const { rate, firstUse, unusualHours } = config.anomaly;
  const profiles = new BoundedMap<Profile>(config.maxSubjects);
  const detection = (
    event: StampedEvent,
    subject: string,
    what: string,
    summary: string,
    details: object,
  ): Detection => ({
    kind: "anomaly",
    severity: "medium",
    key: `${what}:${subject}`,
    summary,
    ctx: event.ctx,
    details: { subject, anomaly: what, ...details },
  });
  return {
    kind: "anomaly",
    observe(event, now): Detection | undefined {
      const call = toolCallFacts(event);
      const subject = subjectOf(event.ctx);
      if (!call || !subject || call.verdict !== "allow") return undefined;
      const profile = profiles.upsert(subject, () => ({
        firstSeen: now,
        windowStart: now,
        windowCalls: 0,
        baseline: 0,
        windowsClosed: 0,
        tools: new Set(),
        hours: new Array<number>(24).fill(0),
        total: 0,
      }));
      let found: Detection | undefined;

      if (rate.enabled) {
        closeWindows(profile, now, rate.windowMs);
        profile.windowCalls++;
        const limit = Math.max(rate.minCalls, rate.factor * profile.baseline);
        if (profile.windowsClosed >= rate.learningWindows && profile.windowCalls === Math.floor(limit) + 1) {
          found = detection(
            event,
            subject,
            "rate",
            `${subject} made ${profile.windowCalls} calls in one window against a baseline of ${profile.baseline.toFixed(1)}`,
            {
              calls: profile.windowCalls,
              baseline: Math.round(profile.baseline * 10) / 10,
              windowMs: rate.windowMs,
            },
          );
        }
      }

      if (firstUse.enabled && !profile.tools.has(call.tool)) {
        if (!found && now - profile.firstSeen > firstUse.learningMs) {
          found = detection(
            event,
            `${subject}|${call.tool}`,
            "first-use",
            `${subject} used ${call.tool} for the first time`,
            { tool: call.tool },
          );
        }
        if (profile.tools.size < MAX_TOOLS) profile.tools.add(call.tool);
      }

      if (unusualHours.enabled) {
        const hour = new Date(now).getUTCHours();
        const share = profile.total === 0 ? 0 : (profile.hours[hour] ?? 0) / profile.total;
        if (!found && profile.total >= unusualHours.minHistory && share < unusualHours.maxShare) {
          found = detection(
            event,
            `${subject}|${hour}`,
            "unusual-hour",
            `${subject} is active at ${hour}:00 UTC, an hour holding ${(share * 100).toFixed(2)}% of its history`,
            { hourUtc: hour, share },
          );
        }
        profile.hours[hour] = (profile.hours[hour] ?? 0) + 1;
        profile.total++;
      }
      return found;
    },
  };
}

/** Folds the windows that ended before `now` into the baseline (empty ones count as zero). */
function closeWindows(profile: Profile, now: number, windowMs: number): void {
  const ended = Math.floor((now - profile.windowStart) / windowMs);
  if (ended <= 0) return;
  profile.baseline = profile.baseline * (1 - BASELINE_WEIGHT) + profile.windowCalls * BASELINE_WEIGHT;
  // Each further window that passed without a call decays the baseline (bounded: a long silence
  // simply ends near zero).
  profile.baseline *= (1 - BASELINE_WEIGHT) ** Math.min(ended - 1, 200);
  profile.windowsClosed += ended;
  profile.windowStart += ended * windowMs;
  profile.windowCalls = 0;
}
