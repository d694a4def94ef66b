// A request context for unit tests of layers: an authenticated user on the 2026-07-28 revision,
// with whatever a test changes.
import type { RequestContext } from "../../src/pipeline/types.ts";

export function testContext(overrides: Partial<RequestContext> = {}): RequestContext {
  return {
    id: "t",
    transport: "http",
    era: "modern",
    protocolVersion: "2026-07-28",
    clientAddress: "198.51.100.7",
    principal: { id: "alice", kind: "user", roles: [], authMethod: "bearer" },
    sessionDigest: undefined,
    clientInfo: undefined,
    findings: {},
    ...overrides,
  };
}
