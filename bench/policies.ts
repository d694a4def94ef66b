// The policy engine on its own, in this process: decisions per second and microseconds per decision
// against policy sets of growing size (1,000 by default), with and without CEL conditions, so that
// the index's promise (a decision reads only the policies that can apply) is measured, not assumed.
import { performance } from "node:perf_hooks";
import { compilePolicies } from "../src/config/policies.ts";
import type { PolicySet } from "../src/layers/authz/engine.ts";
import { type AuthzQuery } from "../src/layers/authz/engine.ts";
import { conditionInput, noUsage } from "../src/layers/authz/input.ts";
import { policySchema } from "../src/layers/authz/policy.ts";
import type { Principal, RequestContext } from "../src/pipeline/types.ts";

export interface PolicyBenchRow {
  readonly policies: number;
  readonly conditions: boolean;
  readonly decisionsPerSecond: number;
  readonly microsPerDecision: number;
  /** Policies the index handed to the decision (the rest were never looked at). */
  readonly candidates: number;
}

/** A realistic set: per-tool permits for roles, a forbid in ten, and a few wildcard rules. */
function policySet(size: number, conditions: boolean): PolicySet {
  const docs: unknown[] = [];
  for (let i = 0; i < size; i++) {
    docs.push({
      id: `tool-${i}`,
      effect: i % 10 === 0 ? "forbid" : "permit",
      principals: { roles: [`role-${i % 20}`] },
      actions: ["tools/call", "tools/list"],
      resources: { tools: [`upstream${i % 8}__tool_${i}`] },
      ...(conditions ? { when: 'inCidr(request.address, ["10.0.0.0/8"]) && trust.score >= 0.7' } : {}),
    });
  }
  docs.push(
    { id: "night-freeze", effect: "forbid", resources: { tools: ["*deploy*"] }, when: "request.hour < 6" },
    { id: "admins", effect: "permit", principals: { roles: ["admin"] } },
  );
  return compilePolicies(docs.map((d) => ({ policy: policySchema.parse(d) }))).set;
}

export function measurePolicyDecisions(sizes: readonly number[] = [10, 100, 1000]): PolicyBenchRow[] {
  const rows: PolicyBenchRow[] = [];
  for (const conditions of [false, true]) {
    for (const size of sizes) {
      const set = policySet(size, conditions);
      const principal: Principal = { id: "alice", kind: "user", roles: ["role-7"], authMethod: "bearer" };
      const ctx: RequestContext = {
        id: "bench",
        transport: "http",
        era: "modern",
        protocolVersion: "2026-07-28",
        clientAddress: "10.1.2.3",
        principal,
        sessionDigest: undefined,
        clientInfo: undefined,
        findings: {
          trust: {
            score: 0.85,
            factors: { reputation: 0.5, device: 1, location: 1, behaviour: 1 },
            unusual: [],
            penalty: 0,
          },
        },
      };
      const queries: AuthzQuery[] = [];
      for (let i = 0; i < 64; i++) {
        const n = (i * 37) % size;
        const target = {
          kind: "tool" as const,
          name: `upstream${n % 8}__tool_${n}`,
          upstream: `upstream${n % 8}`,
          labels: {},
        };
        queries.push({
          action: "tools/call",
          principal,
          target,
          input: () =>
            conditionInput({
              ctx,
              action: "tools/call",
              target,
              now: Date.now(),
              timeZone: "UTC",
              readsCountry: false,
              ratePerMinute: 1,
              usage: noUsage,
              arguments: undefined,
              argumentKeys: [],
            }),
        });
      }
      const run = (count: number) => {
        for (let i = 0; i < count; i++) set.decide(queries[i & 63]!);
      };
      run(20_000); // warm-up: compiled code paths, caches
      let count = 0;
      const started = performance.now();
      let elapsed = 0;
      while (elapsed < 1000) {
        run(5_000);
        count += 5_000;
        elapsed = performance.now() - started;
      }
      rows.push({
        policies: set.size,
        conditions,
        decisionsPerSecond: Math.round((count / elapsed) * 1000),
        microsPerDecision: Math.round(((elapsed * 1000) / count) * 100) / 100,
        candidates: Math.max(...queries.map((q) => set.candidates(q).length)),
      });
    }
  }
  return rows;
}

export function policyMarkdown(rows: readonly PolicyBenchRow[]): string {
  const lines = [
    "### Policy decisions (in process)",
    "",
    "| policies | CEL conditions | candidates read | decisions/s | µs per decision |",
    "| ---: | :---: | ---: | ---: | ---: |",
    ...rows.map(
      (r) =>
        `| ${r.policies} | ${r.conditions ? "yes" : "no"} | ${r.candidates} | ${r.decisionsPerSecond.toLocaleString("en-US")} | ${r.microsPerDecision} |`,
    ),
  ];
  return lines.join("\n");
}

if (import.meta.main) {
  const rows = measurePolicyDecisions();
  process.stdout.write(`${policyMarkdown(rows)}\n`);
}
