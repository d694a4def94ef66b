// The JSON logger (pino) with secret-bearing fields redacted; logs go to stderr so that the stdio
// ingress keeps stdout for the protocol.
import { pino, type Logger, type LevelWithSilent } from "pino";

export const redactedPaths = [
  "*.authorization",
  "*.Authorization",
  "*.headers.authorization",
  "*.headers.cookie",
  "*.token",
  "*.password",
  "*.secret",
  "*.apiKey",
  "*.env",
];

const baseOptions = {
  base: { service: "portcullis" },
  timestamp: pino.stdTimeFunctions.isoTime,
  formatters: { level: (label: string) => ({ level: label }) },
};

export function createLogger(level: LevelWithSilent = "info"): Logger {
  return pino(
    { ...baseOptions, level, redact: { paths: redactedPaths, censor: "[redacted]" } },
    pino.destination({ fd: 2, sync: false }),
  );
}

/**
 * The logger of the decision log: one line per request, so it skips wildcard redaction (a third of
 * the line's cost when measured). Safe because a decision line holds only fields the decision log
 * chooses, none of them a secret.
 */
export function createDecisionLogger(level: LevelWithSilent = "info"): Logger {
  return pino({ ...baseOptions, level }, pino.destination({ fd: 2, sync: false }));
}
