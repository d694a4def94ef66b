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

export function createLogger(level: LevelWithSilent = "info"): Logger {
  return pino(
    {
      level,
      base: { service: "portcullis" },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: redactedPaths, censor: "[redacted]" },
      formatters: { level: (label) => ({ level: label }) },
    },
    pino.destination({ fd: 2, sync: false }),
  );
}
