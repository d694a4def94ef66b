// The config of the trust layer: how each factor of a caller's trust score is computed, how they
// are weighed, and where the score denies or asks for more proof. Defaults are the design's (§5).
import { z } from "zod";

const DAY = 86_400_000;

const durationMs = (fallback: number, description: string) =>
  z
    .number()
    .int()
    .min(0)
    .max(3650 * DAY)
    .default(fallback)
    .describe(description);

const count = (fallback: number, description: string) =>
  z.number().int().min(1).max(10_000_000).default(fallback).describe(description);

/** A value in [0, 1]: a factor's value in some situation, a weight, a deduction or a threshold. */
const unit = (fallback: number, description: string) =>
  z.number().min(0).max(1).default(fallback).describe(description);

const weights = z
  .strictObject({
    reputation: unit(0.3, "Weight of the principal's reputation (violation history and account age)."),
    device: unit(0.2, "Weight of the device factor (certificate, known or new client)."),
    location: unit(0.2, "Weight of the location factor (known network, country, impossible travel)."),
    behaviour: unit(0.3, "Weight of the behaviour factor (rate, first use of a tool, hour, recent denials)."),
  })
  .prefault({})
  .refine((w) => Math.abs(w.reputation + w.device + w.location + w.behaviour - 1) <= 0.001, {
    message: "the four weights must add up to 1",
  })
  .describe("How the four factors are weighed into the score.");

const reputation = z
  .strictObject({
    start: unit(0.5, "Reputation of a principal without violations or history."),
    perViolation: unit(0.1, "Lost per recent violation (a denial by a security layer, or a detection)."),
    maxViolationPenalty: unit(0.3, "At most this much is lost to violations."),
    violationWindowMs: durationMs(7 * DAY, "How long a violation counts; older ones stop counting."),
    perYearOfAge: unit(0.1, "Gained per year since the principal was first allowed through."),
    maxAgeBonus: unit(0.2, "At most this much is gained with age."),
  })
  .prefault({})
  .describe("Reputation: starts at `start`, loses for recent violations, gains with account age.");

const device = z
  .strictObject({
    certificate: unit(1, "A device identified by a verified client certificate (mutual TLS)."),
    local: unit(0.9, "The local machine (stdio, or a loopback address)."),
    known: unit(0.8, "A client (OAuth client or API key, and client name) seen before for this principal."),
    firstSight: unit(0.6, "A client never seen before for this principal."),
  })
  .prefault({})
  .describe("Device: what is known of the machine or client the request comes from.");

const location = z
  .strictObject({
    known: unit(1, "The local machine, or a network (/24, /64) the principal was allowed from before."),
    newNetwork: unit(0.8, "A network not seen before (in a known country, or the principal's first)."),
    newCountry: unit(0.5, "A country the principal was never allowed from, when it has been elsewhere."),
    impossibleTravel: unit(0, "A different country than the last one, sooner than travel allows."),
    impossibleTravelMs: durationMs(
      3_600_000,
      "A change of country within this time of the last allowed request is impossible travel (0: off).",
    ),
  })
  .prefault({})
  .describe("Location: the principal's known networks and countries, and impossible travel.");

const behaviour = z
  .strictObject({
    rate: z
      .strictObject({
        windowMs: durationMs(60_000, "Length of one window of the principal's request rate."),
        factor: z
          .number()
          .min(1)
          .max(1000)
          .default(5)
          .describe("A window holding more requests than the baseline times this is above baseline."),
        minRequests: count(30, "…and more than this many (a quiet principal may burst a little)."),
        learningWindows: count(10, "Active windows observed before the baseline is trusted."),
        penalty: unit(0.5, "Deducted from behaviour while the rate is above baseline."),
      })
      .prefault({})
      .describe("Request rate against the principal's moving baseline (an average over active windows)."),
    firstUse: z
      .strictObject({
        learningMs: durationMs(
          7 * DAY,
          "After the principal was first allowed through, how long new tools are learnt silently.",
        ),
        penalty: unit(0.2, "Deducted from behaviour for a tool the principal never used before."),
      })
      .prefault({})
      .describe("The first use of a tool, once the learning period is over."),
    unusualHours: z
      .strictObject({
        minHistory: count(200, "Allowed requests observed before hours of the day are judged."),
        penalty: unit(0.2, "Deducted from behaviour at an hour (UTC) the principal was never active."),
      })
      .prefault({})
      .describe("Activity at an hour of the day the principal has never been active."),
    recentDenials: z
      .strictObject({
        windowMs: durationMs(900_000, "Violations within this time count as recent denials."),
        perDenial: unit(0.1, "Deducted from behaviour per recent denial."),
        maxPenalty: unit(0.3, "At most this much is deducted for recent denials."),
      })
      .prefault({})
      .describe("Denials in the last minutes (they also count, longer, against reputation)."),
  })
  .prefault({})
  .describe("Behaviour: starts at 1; each unusual sign deducts its penalty.");

export const trustSection = z
  .strictObject({
    enabled: z.boolean().default(true).describe("Score every request's caller and deny below `denyBelow`."),
    weights,
    denyBelow: unit(0.7, "A score below this denies the request (rule trust.min-score)."),
    verifyBelow: unit(0.8, "A score below this asks for additional verification (step-up or approval)."),
    verifyOnUnusual: z
      .boolean()
      .default(true)
      .describe(
        "Ask for additional verification on an unusual access (new network, first use of a tool, …).",
      ),
    highRiskTools: z
      .array(z.string().min(1))
      .default([
        "*delete*",
        "*remove*",
        "*drop*",
        "*destroy*",
        "*exec*",
        "*shell*",
        "*sudo*",
        "*deploy*",
        "*kill*",
      ])
      .describe(
        "Tool names (public, `*` and `?` wildcards, case-insensitive) that always ask for additional verification, besides tools annotated destructiveHint.",
      ),
    reputation,
    device,
    location,
    behaviour,
    profileTtlMs: durationMs(
      90 * DAY,
      "A principal's profile is forgotten this long after it last changed (and its account age with it).",
    ),
    maxPrincipals: count(50_000, "Profiles kept in memory at most (least recently used forgotten first)."),
    maxEntriesPerProfile: count(
      256,
      "Tools, networks, countries and devices remembered per principal at most (oldest forgotten first).",
    ),
    refreshMs: durationMs(
      30_000,
      "A cached profile older than this is reloaded from the state store in the background (other nodes' learning).",
    ),
    writeDelayMs: durationMs(5_000, "Changed profiles are written to the state store after this delay."),
  })
  .prefault({})
  .refine((trust) => trust.verifyBelow >= trust.denyBelow, {
    message: "verifyBelow must not be below denyBelow",
    path: ["verifyBelow"],
  })
  .describe("Trust scoring: reputation, device, location and behaviour of each caller.");

export type TrustConfig = z.output<typeof trustSection>;
