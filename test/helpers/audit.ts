// What the audit tests of both stores share: a sample decision outcome, and a gateway killed with
// SIGKILL while clients keep calling it (returning what each released answer's record must hold).
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import canonicalize from "canonicalize";
import { anonymousPrincipal, type MessageOutcome } from "../../src/pipeline/types.ts";
import { cliPath, fixture, nodeUpstream, type RunningGateway } from "./gatewayProcess.ts";

/** The i-th of a run of allowed tools/call outcomes. */
export function sampleOutcome(i: number): MessageOutcome {
  return {
    ctx: {
      id: `req-${i}`,
      transport: "http",
      era: "legacy",
      protocolVersion: "2025-11-25",
      clientAddress: "127.0.0.1",
      principal: anonymousPrincipal,
      sessionDigest: "abc",
      clientInfo: undefined,
      findings: {},
    },
    method: "tools/call",
    target: { upstream: "everything", kind: "tool", name: "echo", publicName: "everything__echo" },
    decidedBy: undefined,
    verdict: "allow",
    errorCode: undefined,
    latencyMs: 1.5,
    layerDecisions: [],
    params: { name: "everything__echo", arguments: { message: `m${i}` } },
  };
}

/**
 * Calls `probe__remember` from every client until `before` answers were released, then kills the
 * gateway with SIGKILL. Returns the SHA-256 of the arguments of every call whose answer arrived.
 */
/** A config line for load tests: they measure the audit trail, not the rate limits. */
export const loadTestLimits = "rateLimits: { enabled: false }";

export async function callUntilKilled(
  gateway: RunningGateway,
  clients: Client[],
  before = 150,
): Promise<string[]> {
  const released: string[] = [];
  let stop = false;
  let ended = 0;
  let failure: unknown;
  const load = clients.map(async (client, c) => {
    try {
      for (let i = 0; !stop && i < 2000; i++) {
        const args = { value: `c${c}-${i}` };
        try {
          await client.callTool({ name: "probe__remember", arguments: args });
        } catch (err) {
          failure ??= err;
          return; // the gateway is gone (or refused: then the wait below says so)
        }
        released.push(
          createHash("sha256")
            .update(canonicalize(args) ?? "")
            .digest("hex"),
        );
      }
    } finally {
      ended++;
    }
  });
  while (released.length < before) {
    if (ended === clients.length)
      throw new Error(`the load stopped after ${released.length} calls: ${String(failure)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  gateway.process.kill("SIGKILL");
  stop = true;
  await Promise.all(load);
  await gateway.stop();
  await Promise.allSettled(clients.map((c) => c.close()));
  return released;
}

/** The session-probe fixture as one shared upstream of the 2025-11-25 revision. */
export const auditProbe = nodeUpstream(
  "probe",
  fixture("session-probe-server.ts"),
  [],
  "    protocol: 2025-11-25\n    isolation: shared\n",
);

/** Runs the CLI to completion (the audit commands read the store; the gateway need not run). */
export function auditCli(...args: string[]) {
  return spawnSync(process.execPath, [cliPath, ...args], { encoding: "utf8" });
}

export async function connectClient(url: string): Promise<Client> {
  const client = new Client({ name: "audit-test", version: "1" });
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  return client;
}
