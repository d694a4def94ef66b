// The policy engine and the authorization layer: default deny, forbid beating permit, the four
// scopes, every kind of condition both ways, list filtering without an existence oracle, step-up,
// and fail-secure evaluation.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseConfigText } from "../../src/config/load.ts";
import { compilePolicies } from "../../src/config/policies.ts";
import {
  PolicySet,
  type AuthzQuery,
  type AuthzTarget,
  type PolicyEntry,
} from "../../src/layers/authz/engine.ts";
import { authzLayer } from "../../src/layers/authz/index.ts";
import { conditionInput, noUsage } from "../../src/layers/authz/input.ts";
import { policySchema } from "../../src/layers/authz/policy.ts";
import type { PolicyAction } from "../../src/layers/authz/actions.ts";
import type { CatalogItem, Principal, RequestContext, RouteTarget } from "../../src/pipeline/types.ts";
import { Enforcements } from "../../src/state/enforcements.ts";
import { MemoryStateStore } from "../../src/state/memoryStore.ts";
import { pino } from "pino";
import { ConfigError } from "../../src/errors.ts";
import { namePatterns } from "../../src/federation/namePattern.ts";
import { principalKey } from "../../src/pipeline/types.ts";

const log = pino({ level: "silent" });

const alice: Principal = {
  id: "alice",
  kind: "user",
  roles: ["reader"],
  authMethod: "bearer",
  groups: ["eng"],
  tenant: "acme",
};
const bob: Principal = { ...alice, id: "bob", roles: ["admin"], groups: [] };

function ctxFor(principal: Principal, clientAddress = "10.1.2.3"): RequestContext {
  return {
    id: "c1",
    transport: "http",
    era: "modern",
    protocolVersion: "2026-07-28",
    clientAddress,
    principal,
    sessionDigest: "s1",
    clientInfo: undefined,
    findings: {},
  };
}

const tool = (name: string, labels: Record<string, string> = {}): AuthzTarget => ({
  kind: "tool",
  name,
  upstream: name.split("__")[0] ?? "u",
  labels,
});

function policies(...docs: unknown[]): PolicySet {
  const entries: PolicyEntry[] = docs.map((d) => ({ policy: policySchema.parse(d) }));
  return compilePolicies(entries).set;
}

function decide(
  set: PolicySet,
  principal: Principal,
  action: PolicyAction,
  target: AuthzTarget | undefined,
  extra: {
    now?: number;
    address?: string;
    trust?: number;
    args?: Record<string, unknown>;
    timeZone?: string;
    argumentKeys?: string[];
  } = {},
) {
  const ctx = ctxFor(principal, extra.address);
  if (extra.trust !== undefined)
    ctx.findings.trust = {
      score: extra.trust,
      factors: { reputation: 0.5, device: 1, location: 1, behaviour: 1 },
      unusual: [],
      penalty: 0,
    };
  const query: AuthzQuery = {
    action,
    principal,
    target,
    input: () =>
      conditionInput({
        ctx,
        action,
        target,
        now: extra.now ?? Date.parse("2026-11-18T10:30:00Z"),
        timeZone: extra.timeZone ?? "UTC",
        readsCountry: set.readsCountry,
        ratePerMinute: 1,
        usage: noUsage,
        arguments: extra.args,
        argumentKeys: extra.argumentKeys ?? ["path"],
      }),
  };
  return set.decide(query);
}

describe("the policy engine", () => {
  it("denies what no policy permits (default deny), naming no policy", () => {
    const set = policies({ id: "admins", effect: "permit", principals: { roles: ["admin"] } });
    const decision = decide(set, alice, "tools/call", tool("fs__write"));
    assert.equal(decision.effect, "deny");
    assert.equal(decision.rule, "default-deny");
    assert.equal(decide(set, bob, "tools/call", tool("fs__write")).effect, "permit");
    assert.equal(decide(policies(), bob, "tools/list", undefined).effect, "deny");
  });

  it("lets a forbid beat any permit, and names it", () => {
    const set = policies(
      { id: "everyone", effect: "permit" },
      { id: "no-delete", effect: "forbid", resources: { tools: ["*delete*"] } },
    );
    const denied = decide(set, bob, "tools/call", tool("fs__delete_file"));
    assert.equal(denied.effect, "deny");
    assert.equal(denied.rule, "policy:no-delete");
    assert.deepEqual(denied.policies, ["no-delete"]);
    const allowed = decide(set, bob, "tools/call", tool("fs__read_file"));
    assert.deepEqual([allowed.effect, allowed.policies], ["permit", ["everyone"]]);
  });

  it("applies the four scopes: user, tool, action and global must all pass", () => {
    const set = policies(
      { id: "user-scope", effect: "permit", principals: { ids: ["alice"] } },
      { id: "tool-scope", effect: "forbid", resources: { tools: ["secrets__*"] } },
      { id: "action-scope", effect: "forbid", actions: ["resources/subscribe"] },
      { id: "global-scope", effect: "forbid", when: 'request.weekday == "Sun"' },
    );
    const monday = Date.parse("2026-11-16T10:00:00Z");
    const sunday = Date.parse("2026-11-22T10:00:00Z");
    assert.equal(decide(set, alice, "tools/call", tool("fs__read"), { now: monday }).effect, "permit");
    assert.equal(decide(set, bob, "tools/call", tool("fs__read"), { now: monday }).effect, "deny");
    assert.equal(
      decide(set, alice, "tools/call", tool("secrets__get"), { now: monday }).rule,
      "policy:tool-scope",
    );
    const resource: AuthzTarget = { kind: "resource", name: "file:///a", upstream: "fs", labels: {} };
    assert.equal(
      decide(set, alice, "resources/subscribe", resource, { now: monday }).rule,
      "policy:action-scope",
    );
    assert.equal(
      decide(set, alice, "tools/call", tool("fs__read"), { now: sunday }).rule,
      "policy:global-scope",
    );
  });

  it("matches principals by role, group, kind, authentication method and tenant", () => {
    const by = (principals: unknown) => policies({ id: "p", effect: "permit", principals });
    const call = (set: PolicySet, who: Principal) => decide(set, who, "tools/call", tool("a__b")).effect;
    assert.equal(call(by({ roles: ["reader"] }), alice), "permit");
    assert.equal(call(by({ roles: ["reader"] }), bob), "deny");
    assert.equal(call(by({ groups: ["eng"] }), alice), "permit");
    assert.equal(call(by({ groups: ["eng"] }), bob), "deny");
    assert.equal(call(by({ kinds: ["service"] }), alice), "deny");
    assert.equal(call(by({ authMethods: ["bearer"] }), alice), "permit");
    assert.equal(call(by({ authMethods: ["api-key"] }), alice), "deny");
    assert.equal(call(by({ tenants: ["acme"] }), alice), "permit");
    assert.equal(call(by({ tenants: ["other"] }), alice), "deny");
    assert.equal(call(by({ roles: ["reader"], tenants: ["other"] }), alice), "deny");
    // Two issuers may both have an "alice": an id is pinned to its issuer.
    const pinned = by({ ids: ["alice"], issuers: ["https://idp.example"] });
    assert.equal(call(pinned, { ...alice, issuer: "https://idp.example" }), "permit");
    assert.equal(call(pinned, { ...alice, issuer: "https://other.example" }), "deny");
  });

  it("matches targets by name pattern, upstream and label", () => {
    const set = policies(
      { id: "echo", effect: "permit", resources: { tools: ["everything__echo"] } },
      { id: "fs-low", effect: "permit", resources: { upstreams: ["fs"], labels: { risk: "low" } } },
    );
    assert.equal(decide(set, alice, "tools/call", tool("everything__echo")).effect, "permit");
    assert.equal(decide(set, alice, "tools/call", tool("EVERYTHING__ECHO")).effect, "permit");
    assert.equal(decide(set, alice, "tools/call", tool("everything__add")).effect, "deny");
    assert.equal(decide(set, alice, "tools/call", tool("fs__read", { risk: "low" })).effect, "permit");
    assert.equal(decide(set, alice, "tools/call", tool("fs__write", { risk: "high" })).effect, "deny");
    const prompt: AuthzTarget = {
      kind: "prompt",
      name: "everything__echo",
      upstream: "everything",
      labels: {},
    };
    assert.equal(decide(set, alice, "prompts/get", prompt).effect, "deny", "a tools list names no prompt");
  });

  it("allows from allowed networks and refuses denied ones (IPv4 and IPv6 CIDR)", () => {
    const set = policies(
      { id: "office", effect: "permit", when: 'inCidr(request.address, ["10.0.0.0/8", "2001:db8::/32"])' },
      { id: "quarantine", effect: "forbid", when: 'inCidr(request.address, "10.66.0.0/16")' },
    );
    const at = (address: string) => decide(set, alice, "tools/call", tool("a__b"), { address }).effect;
    assert.equal(at("10.1.2.3"), "permit");
    assert.equal(at("::ffff:10.1.2.3"), "permit");
    assert.equal(at("2001:db8:1::5"), "permit");
    assert.equal(at("192.0.2.1"), "deny");
    assert.equal(at("2001:db9::1"), "deny");
    assert.equal(at("10.66.1.1"), "deny");
  });

  it("allows within office hours in a named time zone and refuses outside them", () => {
    const set = policies({
      id: "office-hours",
      effect: "permit",
      when: 'withinHours(now, "09:00", "17:30", "Europe/Berlin") && request.weekday != "Sat"',
    });
    // 10:30 UTC is 11:30 in Berlin (winter time); 17:00 UTC is 18:00 there.
    assert.equal(
      decide(set, alice, "tools/call", tool("a__b"), { now: Date.parse("2026-11-18T10:30:00Z") }).effect,
      "permit",
    );
    assert.equal(
      decide(set, alice, "tools/call", tool("a__b"), { now: Date.parse("2026-11-18T17:00:00Z") }).effect,
      "deny",
    );
    assert.equal(
      decide(set, alice, "tools/call", tool("a__b"), { now: Date.parse("2026-11-21T10:30:00Z") }).effect,
      "deny",
    );
    const night = policies({
      id: "night",
      effect: "permit",
      when: 'withinHours(now, "22:00", "06:00", "UTC")',
    });
    assert.equal(
      decide(night, alice, "tools/call", tool("a__b"), { now: Date.parse("2026-11-18T23:10:00Z") }).effect,
      "permit",
    );
    assert.equal(
      decide(night, alice, "tools/call", tool("a__b"), { now: Date.parse("2026-11-18T12:00:00Z") }).effect,
      "deny",
    );
  });

  it("allows within a time window and refuses after it", () => {
    const set = policies({
      id: "freeze-window",
      effect: "permit",
      when: 'now >= timestamp("2026-11-01T00:00:00Z") && now < timestamp("2026-12-01T00:00:00Z")',
    });
    assert.equal(
      decide(set, alice, "tools/call", tool("a__b"), { now: Date.parse("2026-11-18T00:00:00Z") }).effect,
      "permit",
    );
    assert.equal(
      decide(set, alice, "tools/call", tool("a__b"), { now: Date.parse("2026-12-02T00:00:00Z") }).effect,
      "deny",
    );
  });

  it("allows from listed countries and refuses others (offline GeoIP)", () => {
    const set = policies({ id: "us-only", effect: "permit", when: 'request.country in ["US"]' });
    assert.equal(decide(set, alice, "tools/call", tool("a__b"), { address: "8.8.8.8" }).effect, "permit");
    assert.equal(decide(set, alice, "tools/call", tool("a__b"), { address: "81.2.69.142" }).effect, "deny");
    assert.equal(decide(set, alice, "tools/call", tool("a__b"), { address: "127.0.0.1" }).effect, "deny");
    const fn = policies({ id: "not-gb", effect: "permit", when: 'country(request.address) != "GB"' });
    assert.equal(decide(fn, alice, "tools/call", tool("a__b"), { address: "81.2.69.142" }).effect, "deny");
    assert.equal(decide(fn, alice, "tools/call", tool("a__b"), { address: "8.8.8.8" }).effect, "permit");
  });

  it("requires a minimum trust score, and fails closed when no score is known", () => {
    const set = policies({ id: "trusted", effect: "permit", when: "trust.score >= 0.8" });
    assert.equal(decide(set, alice, "tools/call", tool("a__b"), { trust: 0.85 }).effect, "permit");
    assert.equal(decide(set, alice, "tools/call", tool("a__b"), { trust: 0.75 }).effect, "deny");
    assert.equal(decide(set, alice, "tools/call", tool("a__b")).effect, "deny");
  });

  it("reads only the configured arguments", () => {
    const set = policies(
      {
        id: "tmp-only",
        effect: "permit",
        actions: ["tools/call"],
        when: 'has(args.path) && args.path.startsWith("/tmp/")',
      },
      { id: "no-secret", effect: "permit", actions: ["tools/call"], when: "has(args.secret)" },
    );
    assert.equal(
      decide(set, alice, "tools/call", tool("a__b"), { args: { path: "/tmp/x" } }).effect,
      "permit",
    );
    assert.equal(
      decide(set, alice, "tools/call", tool("a__b"), { args: { path: "/etc/passwd" } }).effect,
      "deny",
    );
    assert.equal(decide(set, alice, "tools/call", tool("a__b"), { args: { secret: "x" } }).effect, "deny");
  });

  it("denies when a condition cannot be evaluated (fail-secure), naming the policy", () => {
    const set = policies(
      { id: "everyone", effect: "permit" },
      { id: "broken-forbid", effect: "forbid", when: 'resource.labels.risk == "high"' },
    );
    // The target has no label `risk`: the lookup fails, and the request is denied.
    const decision = decide(set, alice, "tools/call", tool("a__b"));
    assert.equal(decision.effect, "deny");
    assert.equal(decision.rule, "policy-error:broken-forbid");
    const guarded = policies(
      { id: "everyone", effect: "permit" },
      {
        id: "guarded-forbid",
        effect: "forbid",
        when: '"risk" in resource.labels && resource.labels.risk == "high"',
      },
    );
    assert.equal(decide(guarded, alice, "tools/call", tool("a__b")).effect, "permit");
    assert.equal(decide(guarded, alice, "tools/call", tool("a__b", { risk: "high" })).effect, "deny");
  });

  it("evaluates only the policies its index selects, and decides the same as a scan over 1,000", () => {
    const docs: unknown[] = [];
    for (let i = 0; i < 1000; i++)
      docs.push({
        id: `p${i}`,
        effect: i % 10 === 0 ? "forbid" : "permit",
        principals: { roles: [`role${i % 7}`] },
        actions: ["tools/call"],
        resources: { tools: [`up__tool${i}`] },
      });
    docs.push({
      id: "wild",
      effect: "permit",
      principals: { roles: ["role1"] },
      resources: { tools: ["up__tool9*"] },
    });
    const set = policies(...docs);
    for (const i of [3, 10, 91, 500, 999]) {
      const who: Principal = { ...alice, roles: [`role${i % 7}`] };
      const target = tool(`up__tool${i}`);
      const query = { action: "tools/call" as const, principal: who, target, input: () => ({}) };
      assert.ok(
        set.candidates(query).length <= 113,
        "only the named policy and the wildcards are candidates",
      );
      const expected = i % 10 === 0 ? "deny" : "permit";
      assert.equal(set.decide(query).effect, expected, `tool${i}`);
    }
  });
});

describe("policy validation", () => {
  function problemsOf(...docs: unknown[]) {
    return PolicySet.compile(
      docs.map((d, i) => ({ policy: policySchema.parse(d), origin: { file: "p.yaml", line: i + 1 } })),
    ).problems;
  }

  it("reports CEL syntax and type errors, unknown fields and non-boolean conditions", () => {
    const problems = problemsOf(
      { id: "syntax", effect: "permit", when: "principal.roles.exists(r, r ==" },
      { id: "field", effect: "permit", when: 'principal.rolez == ["a"]' },
      { id: "type", effect: "permit", when: 'trust.score + "x" == 1' },
      { id: "not-bool", effect: "permit", when: "principal.id" },
    );
    assert.deepEqual(
      problems.map((p) => [p.policy, p.severity]),
      [
        ["syntax", "error"],
        ["field", "error"],
        ["type", "error"],
        ["not-bool", "error"],
      ],
    );
    assert.match(problems[1]?.message ?? "", /rolez/);
  });

  it("reports unknown actions, duplicate ids, and shadowed or disabled policies", () => {
    const problems = problemsOf(
      { id: "typo", effect: "permit", actions: ["tools/cal"] },
      { id: "dup", effect: "permit" },
      { id: "dup", effect: "permit" },
      {
        id: "readers-delete",
        effect: "permit",
        principals: { roles: ["reader"] },
        resources: { tools: ["fs__delete"] },
      },
      { id: "never-delete", effect: "forbid", resources: { tools: ["*delete*"] } },
      { id: "off", effect: "permit", enabled: false },
    );
    const byPolicy = Object.fromEntries(problems.map((p) => [p.policy, p]));
    assert.match(byPolicy.typo?.message ?? "", /tools\/cal/);
    assert.match(byPolicy.dup?.message ?? "", /duplicate.*p\.yaml:2/);
    assert.equal(byPolicy["readers-delete"]?.severity, "warning");
    assert.match(byPolicy["readers-delete"]?.message ?? "", /shadowed.*never-delete/);
    assert.equal(byPolicy.off?.severity, "warning");
  });

  it("refuses a config whose policies do not compile, naming file, line and policy", () => {
    const text = `version: 1
upstreams:
  a: { transport: stdio, command: x }
authorization:
  policies:
    - id: fine
      effect: permit
    - id: broken
      effect: permit
      when: "principal.nope"
`;
    parseConfigText(text, "/tmp/p.yaml");
    assert.throws(
      () => {
        const { compilePolicies: compile } = { compilePolicies };
        const config = parseConfigText(text, "/tmp/p.yaml");
        compile(
          config.authorization.policies.map((policy) => ({
            policy,
            origin: { file: "/tmp/p.yaml", line: 8 },
          })),
        );
      },
      (err: unknown) => err instanceof ConfigError && /p\.yaml.*broken|broken/.test(err.message),
    );
  });
});

describe("the authorization layer", () => {
  const state = new MemoryStateStore();
  const enforcements = new Enforcements(state, log);
  const config = parseConfigText(
    `version: 1\nupstreams:\n  a: { transport: stdio, command: x }\nauthorization:\n  labels:\n    - { tools: ["*delete*"], labels: { risk: high } }\n`,
    "/tmp/x.yaml",
  ).authorization;
  const set = policies(
    {
      id: "readers-echo",
      effect: "permit",
      principals: { roles: ["reader"] },
      actions: ["tools/list", "tools/call"],
      resources: { tools: ["everything__echo"] },
    },
    {
      id: "readers-see-add",
      effect: "permit",
      principals: { roles: ["reader"] },
      actions: ["tools/list"],
      resources: { tools: ["everything__add"] },
    },
    { id: "admins", effect: "permit", principals: { roles: ["admin"] } },
    {
      id: "risky-needs-fresh-login",
      effect: "permit",
      principals: { roles: ["admin"] },
      resources: { labels: { risk: "high" } },
      obligations: { stepUp: { maxAuthAgeSeconds: 300, acr: ["phr"] } },
    },
  );
  const layer = authzLayer({
    policies: set,
    config,
    enforcements,
    store: state,
    now: () => Date.parse("2026-11-18T10:00:00Z"),
  });
  const route = (publicName: string): RouteTarget => ({
    upstream: "everything",
    kind: "tool",
    name: publicName.split("__")[1],
    publicName,
  });
  const call = (who: Principal, name: string) =>
    layer.onRequest!(
      { method: "tools/call", params: { name, arguments: {} }, target: route(name) },
      ctxFor(who),
    );
  const items: CatalogItem[] = ["everything__echo", "everything__add", "everything__delete_all"].map(
    (publicName) => ({
      upstream: "everything",
      publicName,
      definition: { name: publicName },
    }),
  );

  it("shows a reader only the tools it may use", async () => {
    const verdict = await layer.onCatalog!({ kind: "tools", items }, ctxFor(alice));
    assert.equal(verdict?.kind, "pass");
    const kept = verdict?.kind === "pass" ? verdict.rewrite : undefined;
    assert.deepEqual(
      kept?.map((i) => i.publicName),
      ["everything__echo", "everything__add"],
    );
    assert.equal(await layer.onCatalog!({ kind: "tools", items }, ctxFor(bob)), undefined, "admins see all");
  });

  it("denies a call to a hidden tool exactly like an unknown one (no existence oracle)", async () => {
    const verdict = await call(alice, "everything__delete_all");
    assert.equal(verdict?.kind, "deny");
    assert.ok(verdict?.kind === "deny" && verdict.conceal);
    assert.deepEqual(verdict.conceal, {
      code: "PORTCULLIS_E_UNKNOWN_TOOL",
      detail: "everything__delete_all",
    });
    assert.equal(verdict.rule, "default-deny", "the audit still learns which rule decided");
  });

  it("denies a call to a visible tool openly, naming the policies", async () => {
    const verdict = await call(alice, "everything__add");
    assert.ok(verdict?.kind === "deny");
    assert.equal(verdict.conceal, undefined);
    assert.equal(verdict.code, "PORTCULLIS_E_AUTHZ_DENIED");
    assert.equal(await call(alice, "everything__echo"), undefined);
  });

  it("asks for a step-up when a permit's obligation is not met, and passes a fresh strong login", async () => {
    const stale: Principal = { ...bob, authTime: Date.parse("2026-11-18T09:00:00Z"), acr: "phr" };
    const challenge = await call(stale, "everything__delete_all");
    assert.ok(challenge?.kind === "challenge");
    assert.equal(challenge.challenge, "step-up");
    assert.equal(challenge.rule, "policy:risky-needs-fresh-login");
    assert.match(
      String(challenge.details?.wwwAuthenticate),
      /insufficient_scope.*acr_values="phr".*max_age=300/,
    );
    const weak: Principal = { ...bob, authTime: Date.parse("2026-11-18T09:59:00Z"), acr: "pwd" };
    assert.equal((await call(weak, "everything__delete_all"))?.kind, "challenge");
    const fresh: Principal = { ...bob, authTime: Date.parse("2026-11-18T09:59:00Z"), acr: "phr" };
    assert.equal(await call(fresh, "everything__delete_all"), undefined);
  });

  it("counts a principal's requests per minute for rate conditions, apart from other principals", async () => {
    let clock = Date.parse("2026-11-18T10:00:00Z");
    const limited = authzLayer({
      policies: policies(
        { id: "everyone", effect: "permit" },
        { id: "slow-down", effect: "forbid", actions: ["tools/call"], when: "request.ratePerMinute > 3" },
      ),
      config,
      enforcements,
      store: state,
      now: () => clock,
    });
    const callAs = (who: Principal) =>
      limited.onRequest!(
        { method: "tools/call", params: { name: "everything__echo" }, target: route("everything__echo") },
        ctxFor(who),
      );
    for (let i = 0; i < 3; i++) assert.equal(await callAs(alice), undefined);
    const fourth = await callAs(alice);
    assert.equal(fourth?.kind === "deny" ? fourth.rule : undefined, "policy:slow-down");
    assert.equal(await callAs(bob), undefined, "another principal has a rate of its own");
    clock += 120_000;
    assert.equal(await callAs(alice), undefined, "two minutes later the rate has fallen");
  });

  it("limits calls per principal and tool with usage counters from the state store", async () => {
    const counters = new MemoryStateStore();
    const quota = () =>
      authzLayer({
        policies: policies({
          id: "two-an-hour",
          effect: "permit",
          when: "usage.tool.hour < 2 && usage.all.day < 3",
        }),
        config,
        enforcements,
        store: counters,
        now: () => Date.parse("2026-11-18T10:00:00Z"),
      });
    const first = quota();
    // A second gateway node on the same store shares the counts.
    const second = quota();
    const callOn = (layer: ReturnType<typeof quota>, who: Principal, name: string) =>
      layer.onRequest!({ method: "tools/call", params: { name }, target: route(name) }, ctxFor(who));
    assert.equal(await callOn(first, alice, "everything__echo"), undefined);
    assert.equal(await callOn(second, alice, "everything__echo"), undefined);
    const third = await callOn(first, alice, "everything__echo");
    assert.equal(third?.kind, "deny", "the tool's hourly quota is used up");
    assert.equal(await callOn(first, bob, "everything__echo"), undefined, "bob has a quota of his own");
    const other = await callOn(second, alice, "everything__add");
    assert.equal(other?.kind, "deny", "three attempts today: the daily quota over all tools is used up");
  });

  it("refuses a step-up to a credential that cannot step up", async () => {
    const key: Principal = { ...bob, authMethod: "api-key" };
    const verdict = await call(key, "everything__delete_all");
    assert.equal(verdict?.kind, "deny");
  });

  it("asks for a step-up while a detector's response requires one", async () => {
    await enforcements.start();
    await enforcements.requireStepUp("bob", 60_000, "brute force", "brute_force");
    const verdict = await call({ ...bob, authTime: Date.parse("2026-11-18T09:00:00Z") }, "everything__echo");
    assert.equal(verdict?.kind, "challenge");
    assert.equal(
      await call({ ...bob, authTime: Date.parse("2026-11-18T09:58:00Z") }, "everything__echo"),
      undefined,
    );
    await enforcements.lift("stepup", "bob");
    enforcements.stop();
  });
});

describe("authorization against evasion (review findings)", () => {
  const state = new MemoryStateStore();
  const enforcements = new Enforcements(state, log);
  const config = parseConfigText(
    `version: 1\nupstreams:\n  a: { transport: stdio, command: x }\nauthorization:\n  argumentKeys: [command, to]\n`,
    "/tmp/x.yaml",
  ).authorization;
  const at = () => Date.parse("2026-11-18T10:00:00Z");
  const route = (publicName: string): RouteTarget => ({
    upstream: "everything",
    kind: "tool",
    name: publicName.split("__")[1],
    publicName,
  });
  const resourceRoute = (uri: string): RouteTarget => ({
    upstream: "fs",
    kind: "resource",
    name: uri,
    publicName: uri,
  });

  it("matches wildcards in linear time: a long crafted URI is judged, not stuck", () => {
    const matches = namePatterns(["file:///srv/*/*/*.pdf"], { caseSensitive: true });
    assert.equal(matches("file:///srv/a/b/c.pdf"), true);
    assert.equal(matches("file:///srv/a/c.pdf"), false);
    assert.equal(matches(`file:///srv/${"/".repeat(200_000)}x`), false);
    assert.equal(namePatterns(["a?c*"])("ABCdef"), true);
    assert.equal(namePatterns(["a?c*"], { caseSensitive: true })("ABCdef"), false);
    assert.equal(namePatterns(["*"])(""), true);
    assert.equal(namePatterns(["ab*ab"])("ab"), false, "the two ends may not overlap");
  });

  it("refuses a resource URI that is not in plain form, so that a forbid cannot be walked around", async () => {
    const layer = authzLayer({
      policies: policies(
        { id: "everyone", effect: "permit" },
        { id: "no-etc", effect: "forbid", resources: { resources: ["file:///etc/*"] } },
      ),
      config,
      enforcements,
      store: state,
      now: at,
    });
    const read = (uri: string) =>
      layer.onRequest!(
        { method: "resources/read", params: { uri }, target: resourceRoute(uri) },
        ctxFor(alice),
      );
    for (const uri of [
      "file:///tmp/../etc/passwd",
      "file:////etc/passwd",
      "file://localhost/etc/passwd",
      "file:///%65tc/passwd",
      "file:///./etc/passwd",
    ]) {
      const verdict = await read(uri);
      assert.equal(verdict?.kind, "deny", uri);
    }
    assert.equal((await read("file:///etc/passwd"))?.kind, "deny");
    assert.equal(await read("file:///srv/report.pdf"), undefined, "the benign twin passes");
    const caseSet = policies({
      id: "public",
      effect: "permit",
      resources: { resources: ["file:///srv/public/*"] },
    });
    const caseLayer = authzLayer({ policies: caseSet, config, enforcements, store: state, now: at });
    const upper = "file:///srv/PUBLIC/x";
    const verdict = await caseLayer.onRequest!(
      { method: "resources/read", params: { uri: upper }, target: resourceRoute(upper) },
      ctxFor(alice),
    );
    assert.equal(verdict?.kind, "deny", "resource URIs match with their case");
  });

  it("lets a forbid read a whole argument: nothing hides past a cut", () => {
    const set = policies(
      { id: "everyone", effect: "permit" },
      { id: "no-rm", effect: "forbid", when: 'has(args.command) && args.command.contains("rm -rf")' },
      {
        id: "no-evil",
        effect: "forbid",
        when: 'has(args.to) && args.to.exists(x, x.endsWith("@evil.example"))',
      },
    );
    const call = (args: Record<string, unknown>) =>
      decide(set, alice, "tools/call", tool("a__b"), { args, argumentKeys: ["command", "to"] }).effect;
    assert.equal(call({ command: `${" ".repeat(5000)}; rm -rf /` }), "deny");
    const recipients = Array.from({ length: 100 }, (_, i) => `user${i}@ok.example`);
    assert.equal(call({ to: [...recipients, "x@evil.example"] }), "deny");
    assert.equal(call({ command: "ls", to: recipients }), "permit");
  });

  it("answers a hidden target as unknown before counting or scoring anything", async () => {
    const counters = new MemoryStateStore();
    const layer = authzLayer({
      policies: policies({
        id: "echo-only",
        effect: "permit",
        resources: { tools: ["everything__echo"] },
        when: "usage.tool.hour < 100",
      }),
      config,
      enforcements,
      store: counters,
      trustMinimum: 0.7,
      now: at,
    });
    const ctx = ctxFor(alice);
    ctx.findings.trust = {
      score: 0.2,
      factors: { reputation: 0, device: 0, location: 0, behaviour: 0 },
      unusual: [],
      penalty: 0,
    };
    const verdict = await layer.onRequest!(
      { method: "tools/call", params: { name: "everything__secret" }, target: route("everything__secret") },
      ctx,
    );
    assert.ok(verdict?.kind === "deny" && verdict.conceal, "hidden: unknown, whatever the trust score");
    assert.deepEqual(await counters.members("nothing"), []);
    assert.equal(
      await counters.get(
        `quota:${principalKey(alice)}:tool:everything__secret:hour:${Math.floor(at() / 3_600_000)}`,
      ),
      undefined,
    );
    const visible = await layer.onRequest!(
      { method: "tools/call", params: { name: "everything__echo" }, target: route("everything__echo") },
      ctx,
    );
    assert.ok(visible?.kind === "deny" && !visible.conceal);
    assert.equal(visible.rule, "trust.min-score");
    const unsubscribe = await layer.onRequest!(
      { method: "resources/unsubscribe", params: { uri: "file:///x" }, target: resourceRoute("file:///x") },
      ctxFor(alice),
    );
    assert.ok(unsubscribe?.kind === "deny" && unsubscribe.conceal, "unsubscribe is concealed too");
  });

  it("refuses a server request whose permit carries obligations nobody could meet", async () => {
    const layer = authzLayer({
      policies: policies({
        id: "sampling-approved",
        effect: "permit",
        actions: ["sampling/createMessage"],
        obligations: { approval: {} },
      }),
      config,
      enforcements,
      store: state,
      now: at,
    });
    const verdict = await layer.onServerRequest!(
      { method: "sampling/createMessage", params: {}, upstream: "a" },
      ctxFor(alice),
    );
    assert.equal(verdict?.kind, "deny");
  });

  it("adds the trust evaluator's fresh-login requirement to a policy's weaker step-up", async () => {
    const layer = authzLayer({
      policies: policies({ id: "pwd-ok", effect: "permit", obligations: { stepUp: { acr: ["pwd"] } } }),
      config,
      enforcements,
      store: state,
      verificationNeeded: () => "unusual access: new-network",
      now: at,
    });
    const ctx = ctxFor({ ...alice, acr: "pwd", authTime: at() - 3_600_000 });
    ctx.findings.trust = {
      score: 0.75,
      factors: { reputation: 0.5, device: 0.6, location: 0.8, behaviour: 1 },
      unusual: ["new-network"],
      penalty: 0,
    };
    const verdict = await layer.onRequest!(
      { method: "tools/call", params: { name: "everything__echo" }, target: route("everything__echo") },
      ctx,
    );
    assert.ok(verdict?.kind === "challenge");
    assert.equal(verdict.details?.max_age, 300);
  });

  it("binds a prompt's approval to its arguments", async () => {
    const asked: unknown[] = [];
    const layer = authzLayer({
      policies: policies({ id: "prompt-approval", effect: "permit", obligations: { approval: {} } }),
      config,
      enforcements,
      store: state,
      approvals: {
        obtain: async (q) => {
          asked.push(q.arguments);
          return { approved: true, id: "a1", rule: "approval:prompt-approval", reason: "ok" };
        },
      },
      now: at,
    });
    const prompt: RouteTarget = {
      upstream: "everything",
      kind: "prompt",
      name: "p",
      publicName: "everything__p",
    };
    await layer.onRequest!(
      {
        method: "prompts/get",
        params: { name: "everything__p", arguments: { topic: "x" }, _meta: { a: 1 } },
        target: prompt,
      },
      ctxFor(alice),
    );
    assert.deepEqual(asked, [{ name: "everything__p", arguments: { topic: "x" } }]);
  });
});
