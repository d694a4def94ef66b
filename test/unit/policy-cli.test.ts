// `portcullis policy validate | test | explain` and PolicySet.explain: every kind of policy error
// found with its file and line, the example policies passing their cases both ways, and decisions
// explained policy by policy (permit, forbid, default deny, a condition error, a hidden target).
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { runPolicyCommand, type PolicyCommandOptions } from "../../src/cli/policy.ts";
import { PolicySet, type AuthzTarget } from "../../src/layers/authz/engine.ts";
import { noUsage } from "../../src/layers/authz/input.ts";
import { policySchema } from "../../src/layers/authz/policy.ts";
import type { Principal, RequestContext } from "../../src/pipeline/types.ts";

const examples = join(dirname(fileURLToPath(import.meta.url)), "../../examples/policies");
const examplePolicyFiles = readdirSync(examples)
  .filter((name) => name.endsWith(".yaml") && name !== "cases.yaml")
  .map((name) => join(examples, name));

const dir = mkdtempSync(join(tmpdir(), "portcullis-policy-cli-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function write(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

async function run(sub: string, positionals: string[], options: PolicyCommandOptions) {
  let out = "";
  let err = "";
  const code = await runPolicyCommand(sub, positionals, options, {
    out: (text) => void (out += text),
    err: (text) => void (err += text),
  });
  return { code, out, err };
}

/** A gateway config whose other sections reference a secret the shell does not hold. */
const config = write(
  "portcullis.yaml",
  `version: 1
identity:
  apiKeys: { file: "\${env:PORTCULLIS_TEST_UNSET_SECRET}" }
upstreams:
  everything: { transport: stdio, command: x }
  fs: { transport: stdio, command: y }
authorization:
  timeZone: Europe/Berlin
  argumentKeys: [path]
  labels:
    - { tools: ["*delete*"], labels: { risk: high } }
  policies:
    - id: readers-echo
      effect: permit
      principals: { roles: [reader] }
      actions: [tools/list, tools/call]
      resources: { tools: [everything__echo] }
    - id: readers-see-add
      effect: permit
      principals: { roles: [reader] }
      actions: [tools/list]
      resources: { tools: [everything__add] }
    - id: admins
      effect: permit
      principals: { roles: [admin] }
    - id: no-risky-for-contractors
      effect: forbid
      principals: { groups: [contractors] }
      resources: { labels: { risk: high } }
    - id: pii-forbid
      effect: forbid
      resources: { tools: ["fs__*"] }
      when: resource.labels.data == "pii"
    - id: tmp-writes
      effect: permit
      principals: { roles: [reader] }
      resources: { tools: [fs__write] }
      when: has(args.path) && args.path.startsWith("/tmp/")
`,
);

describe("portcullis policy validate", () => {
  it("finds every kind of error, each with its file, line and policy, and exits 1", async () => {
    const bad = join(dir, "bad");
    mkdirSync(bad);
    write(
      "bad/a.yaml",
      `- id: fine
  effect: permit
- id: typo-field
  effect: permit
  principals: { rolez: [x] }
- id: cel-syntax
  effect: permit
  when: principal.roles.exists(r, r ==
- id: cel-type
  effect: permit
  when: 'trust.score + "x" == 1'
- id: cel-unknown-field
  effect: permit
  when: principal.rolez == ["a"]
- id: bad-action
  effect: permit
  actions: [tools/cal]
- id: bad-zone
  effect: permit
  when: withinHours(now, "09:00", "17:00", "Mars/Olympus")
`,
    );
    write("bad/b.yaml", `policies:\n  - id: ok\n    effect: permit\n  - id: fine\n    effect: forbid\n`);
    write("bad/c.yaml", `- id: x\n  effect: permit\n  when: "unterminated\n`);
    const { code, out } = await run("validate", [], { policies: bad });
    assert.equal(code, 1);
    const a = join(bad, "a.yaml");
    for (const line of [
      `${a}:5: policy typo-field: principals.rolez: unknown key "rolez"`,
      `${a}:6: policy cel-syntax: when: `,
      `${a}:9: policy cel-type: when: no such overload`,
      `${a}:12: policy cel-unknown-field: when: No such key: rolez`,
      `${a}:15: policy bad-action: action "tools/cal" is not an MCP method policies govern`,
      `${a}:18: policy bad-zone: when: "Mars/Olympus" is not an IANA time zone`,
      `${join(bad, "b.yaml")}:4: policy fine: duplicate policy id (first at ${a}:1)`,
      `${join(bad, "c.yaml")}:4: Missing closing "quote`,
    ])
      assert.ok(out.includes(line), `missing: ${line}\n${out}`);
    assert.match(out, /^9 policies, 8 errors, 0 warnings$/m);
  });

  it("prints warnings (disabled, shadowed) and exits 0, or 1 with --strict", async () => {
    const file = write(
      "warnings.yaml",
      `- id: off
  effect: permit
  enabled: false
- id: readers-delete
  effect: permit
  principals: { roles: [reader] }
  resources: { tools: [fs__delete] }
- id: never-delete
  effect: forbid
  resources: { tools: ["*delete*"] }
`,
    );
    const relaxed = await run("validate", [], { policies: file });
    assert.equal(relaxed.code, 0);
    assert.ok(relaxed.out.includes(`${file}:1: policy off: warning: disabled: it never applies`));
    assert.ok(
      relaxed.out.includes(`${file}:4: policy readers-delete: warning: shadowed: forbid never-delete`),
    );
    assert.match(relaxed.out, /^3 policies, 0 errors, 2 warnings$/m);
    assert.equal((await run("validate", [], { policies: file, strict: true })).code, 1);
  });

  it("checks a config's policies without the secrets its other sections reference", async () => {
    const { code, out } = await run("validate", [], { config });
    assert.equal(code, 0, out);
    assert.match(out, /^6 policies, 0 errors, 0 warnings$/m);
  });

  it("reports errors in a config's authorization section and in the policy files it names", async () => {
    write("named.yaml", `- id: named\n  effect: permit\n  when: principal.nope\n`);
    const file = write(
      "broken-config.yaml",
      `upstreams: { a: { transport: stdio, command: x } }
authorization:
  timeZone: Mars/Olympus
  policyFiles: [named.yaml, missing.yaml]
  policies:
    - id: inline
      effect: permit
      principals: { ids: [a] }
      when: args.secret == "x"
`,
    );
    const { code, out } = await run("validate", [], { config: file });
    assert.equal(code, 1);
    assert.ok(out.includes(`${file}:3: authorization.timeZone: not an IANA time zone`), out);
    assert.ok(out.includes(`${file}: cannot read ${join(dir, "missing.yaml")}`), out);
    assert.ok(out.includes(`${join(dir, "named.yaml")}:1: policy named: when: No such key: nope`), out);
    const unexposed = write(
      "unexposed-config.yaml",
      `authorization:
  policies:
    - id: inline
      effect: permit
      principals: { ids: [a] }
      when: args.secret == "x"
`,
    );
    const warned = await run("validate", [], { config: unexposed });
    assert.equal(warned.code, 0, warned.out);
    assert.ok(warned.out.includes(`${unexposed}:3: policy inline: warning: reads args.secret`), warned.out);
    const typo = write(
      "typo-config.yaml",
      `authorization:
  policies:
    - id: fine
      effect: permit
    - id: inline-typo
      efect: permit
  polices: []
`,
    );
    const typos = await run("validate", [], { config: typo });
    assert.equal(typos.code, 1);
    assert.ok(typos.out.includes(`${typo}:5: policy inline-typo: effect: Invalid option`), typos.out);
    assert.ok(typos.out.includes(`${typo}:6: policy inline-typo: efect: unknown key "efect"`), typos.out);
    assert.ok(typos.out.includes(`${typo}:7: authorization.polices: unknown key "polices"`), typos.out);
    assert.match(typos.out, /^2 policies, 3 errors, 0 warnings$/m);
  });

  it("passes every example policy file, and refuses a cases file as a policy file", async () => {
    const { code, out } = await run("validate", [], { policies: examplePolicyFiles });
    assert.equal(code, 0, out);
    assert.match(out, /^\d+ policies, 0 errors, 0 warnings$/m);
    const folder = await run("validate", [], { policies: [examples] });
    assert.equal(folder.code, 0, folder.out);
    const cases = await run("validate", [], { policies: [join(examples, "tests", "cases.yaml")] });
    assert.equal(cases.code, 1);
    assert.match(cases.out, /cases\.yaml:1: a file of policy test cases, not policies/);
  });

  it("needs --config or --policies, not both", async () => {
    await assert.rejects(run("validate", [], {}), /--config FILE/);
    await assert.rejects(run("validate", [], { config, policies: examples }), /not both/);
    await assert.rejects(run("lint", [], { config }), /unknown policy command "lint"/);
  });
});

describe("portcullis policy test", () => {
  it("passes the example cases, every condition both ways", async () => {
    const cases = join(examples, "tests", "cases.yaml");
    const { code, out, err } = await run("test", [cases], { policies: examples });
    assert.equal(code, 0, `${out}${err}`);
    assert.doesNotMatch(out, /^FAIL/m);
    const total = Number(/^(\d+) cases, (\d+) passed, 0 failed$/m.exec(out)?.[1]);
    assert.ok(total >= 40, out);
  });

  it("fails a wrong expectation, naming what was expected and what decided", async () => {
    const cases = write(
      "wrong-cases.yaml",
      `- name: a platform member is refused the wiki
  principal: { id: pat, groups: [platform] }
  action: tools/call
  resource: { kind: tool, name: wiki__edit_page }
  expect: deny
- name: the right policies decide
  principal: { id: pat, groups: [platform] }
  action: tools/call
  resource: { kind: tool, name: vault__read }
  expect: deny
  policies: [no-sampling]
- name: a fresh login meets the step-up
  principal: { id: olga, roles: [ops], acr: pwd, authAgeSeconds: 10 }
  action: tools/call
  resource: { kind: tool, name: infra__list_clusters }
  expect: permit
  obligations: [stepUp, approval]
  stepUp: met
- name: this one passes
  principal: { id: quinn }
  action: tools/call
  resource: { kind: tool, name: wiki__edit_page }
  expect: deny
  policies: []
`,
    );
    const { code, out } = await run("test", [cases], { policies: examplePolicyFiles });
    assert.equal(code, 1);
    assert.ok(
      out.includes(
        "FAIL a platform member is refused the wiki: expected deny, got permit (policy:platform-team)",
      ),
      out,
    );
    assert.ok(
      out.includes("FAIL the right policies decide: expected policies [no-sampling], got [no-secret-tools]"),
    );
    assert.match(
      out,
      /FAIL a fresh login meets the step-up: expected obligations \[stepUp, approval\], got \[stepUp\]; expected the step-up met, got unmet \(authentication context pwd/,
    );
    assert.ok(out.includes("ok   this one passes"));
    assert.match(out, /^4 cases, 1 passed, 3 failed$/m);
  });

  it("reports a bad case with its file, line and name, and runs none", async () => {
    const cases = write(
      "bad-cases.yaml",
      `- name: typo
  principal: { id: a, rolez: [x] }
  action: tools/call
  expect: permit
- name: bad context
  principal: { id: a }
  action: tools/cal
  context: { time: yesterday, address: nowhere, trust: 2 }
  expect: maybe
`,
    );
    const { code, out, err } = await run("test", [cases], { policies: examplePolicyFiles });
    assert.equal(code, 1);
    assert.equal(out, "");
    for (const line of [
      `${cases}:2: case typo: principal.rolez: unknown key "rolez"`,
      `${cases}:7: case bad context: action: Invalid option`,
      `${cases}:8: case bad context: context.address: not an IP address`,
      `${cases}:8: case bad context: context.time: not an ISO 8601 time`,
      `${cases}:8: case bad context: context.trust.score: Too big`,
      `${cases}:9: case bad context: expect: Invalid option`,
    ])
      assert.ok(err.includes(line), `missing: ${line}\n${err}`);
  });

  it("takes labels, arguments and the time zone from the config (labels only when a case gives none)", async () => {
    const cases = write(
      "config-cases.yaml",
      `- name: the config labels the tool risk=high
  principal: { id: bob, roles: [admin], groups: [contractors] }
  action: tools/call
  resource: { kind: tool, name: everything__delete_all }
  expect: deny
  policies: [no-risky-for-contractors]
- name: labels the case gives replace the config's
  principal: { id: bob, roles: [admin], groups: [contractors] }
  action: tools/call
  resource: { kind: tool, name: everything__delete_all, labels: {} }
  expect: permit
- name: an argument the config exposes
  principal: { id: alice, roles: [reader] }
  action: tools/call
  resource: { kind: tool, name: fs__write, labels: { data: public } }
  context: { arguments: { path: /tmp/a } }
  expect: permit
  policies: [tmp-writes]
- name: a condition error denies
  principal: { id: alice, roles: [reader] }
  action: tools/call
  resource: { kind: tool, name: fs__write }
  context: { arguments: { path: /tmp/a } }
  expect: deny
  policies: [pii-forbid]
`,
    );
    const { code, out } = await run("test", [cases], { config });
    assert.equal(code, 0, out);
    const zoned = write(
      "zoned.yaml",
      `authorization:\n  timeZone: Asia/Tokyo\n  policies:\n    - { id: morning, effect: permit, when: "request.hour == 9" }\n`,
    );
    const zonedCases = write(
      "zoned-cases.yaml",
      `- name: 09:30 in Tokyo
  principal: { id: a }
  action: tools/list
  context: { time: "2026-11-18T00:30:00Z" }
  expect: permit
`,
    );
    assert.equal((await run("test", [zonedCases], { config: zoned })).code, 0);
    assert.equal(
      (
        await run("test", [zonedCases], {
          policies: write("utc.yaml", "- { id: morning, effect: permit, when: 'request.hour == 9' }\n"),
        })
      ).code,
      1,
    );
  });

  it("runs no case when the policies do not compile", async () => {
    const cases = join(examples, "tests", "cases.yaml");
    const broken = write("broken.yaml", `- id: broken\n  effect: permit\n  when: nope\n`);
    const { code, out, err } = await run("test", [cases], { policies: broken });
    assert.equal(code, 1);
    assert.equal(out, "");
    assert.match(err, /broken\.yaml:1: policy broken: when: /);
  });
});

describe("portcullis policy explain", () => {
  const explain = (options: PolicyCommandOptions) => run("explain", [], { config, ...options });

  it("explains a permit: the policy that decided and the candidates the index selected", async () => {
    const { code, out } = await explain({
      principal: "alice",
      roles: "reader",
      action: "tools/call",
      tool: "everything__echo",
    });
    assert.equal(code, 0);
    assert.match(out, /^decision: +permit \(policy:readers-echo\): permitted by readers-echo$/m);
    assert.match(
      out,
      /^candidates: +4 of 6 policies, selected by the index for tools\/call and everything__echo$/m,
    );
    assert.match(
      out,
      /^ +permit +readers-echo +\S+portcullis\.yaml:13 +scope matched +condition absent +← decided$/m,
    );
    assert.match(out, /^ +permit +admins +\S+ +scope not matched \(principals\) +condition skipped$/m);
    assert.match(out, /^ +forbid +pii-forbid +\S+ +scope not matched \(resources\) +condition skipped$/m);
    assert.doesNotMatch(
      out,
      /readers-see-add|tmp-writes/,
      "the index never selects policies for other names",
    );
  });

  it("explains a forbid that beats a permit, on a target labelled by the config", async () => {
    const { out } = await explain({
      principal: "bob",
      roles: "admin",
      groups: "contractors",
      action: "tools/call",
      tool: "everything__delete_all",
    });
    assert.match(out, /labels risk=high/);
    assert.match(
      out,
      /^decision: +deny \(policy:no-risky-for-contractors\): forbidden by no-risky-for-contractors$/m,
    );
    assert.match(out, /^ +permit +admins .*scope matched +condition absent$/m);
    assert.match(out, /^ +forbid +no-risky-for-contractors .*condition absent +← decided$/m);
  });

  it("explains a default deny on a visible target: the client is told it is denied", async () => {
    const { out } = await explain({
      principal: "alice",
      roles: "reader",
      action: "tools/call",
      tool: "everything__add",
    });
    assert.match(out, /^decision: +deny \(default-deny\): no policy permits tools\/call$/m);
    assert.match(out, /^policies: +none$/m);
    assert.match(
      out,
      /^hidden: +no: tools\/list permits it \(policy:readers-see-add\), so the client is told PORTCULLIS_E_AUTHZ_DENIED$/m,
    );
  });

  it("explains a hidden target: denied exactly like one that does not exist", async () => {
    const { out } = await explain({
      principal: "alice",
      roles: "reader",
      action: "tools/call",
      tool: "everything__delete_all",
    });
    assert.match(
      out,
      /^hidden: +yes: tools\/list is denied too \(default-deny\), so the client is told PORTCULLIS_E_UNKNOWN_TOOL: everything__delete_all/m,
    );
  });

  it("explains a condition error: fail-secure, naming the policy and the error", async () => {
    const { out } = await explain({
      principal: "alice",
      roles: "reader",
      action: "tools/call",
      tool: "fs__write",
      args: '{"path": "/tmp/x"}',
    });
    assert.match(
      out,
      /^decision: +deny \(policy-error:pii-forbid\): policy pii-forbid could not be evaluated$/m,
    );
    assert.match(out, /^ +permit +tmp-writes .*condition true$/m);
    assert.match(out, /^ +forbid +pii-forbid .*condition error: No such key: data +← decided$/m);
  });

  it("explains obligations, and whether the principal's login meets a step-up", async () => {
    const obligations = join(examples, "obligations.yaml");
    const { out } = await run("explain", [], {
      policies: obligations,
      principal: "olga",
      roles: "ops",
      acr: "phr",
      amr: "mfa",
      "auth-age": "3600",
      action: "tools/call",
      tool: "infra__list_clusters",
    });
    assert.match(
      out,
      /^obligations: step-up \(ops-infra-with-fresh-mfa: login within 900 s, acr phr or phrh, amr mfa\): not met, the user authenticated 3600 s ago/m,
    );
  });

  it("writes JSON with --json", async () => {
    const { out } = await explain({
      principal: "alice",
      roles: "reader",
      action: "tools/call",
      tool: "everything__echo",
      json: true,
    });
    const parsed = JSON.parse(out) as {
      decision: { effect: string };
      candidates: { id: string; condition: string }[];
    };
    assert.equal(parsed.decision.effect, "permit");
    assert.deepEqual(
      parsed.candidates.map((c) => c.id),
      ["readers-echo", "admins", "no-risky-for-contractors", "pii-forbid"],
    );
  });

  it("names the option that is missing or wrong", async () => {
    await assert.rejects(explain({ action: "tools/call" }), /--principal ID/);
    await assert.rejects(explain({ principal: "a" }), /--action/);
    await assert.rejects(
      explain({ principal: "a", action: "tools/call", tool: "x", prompt: "y" }),
      /one of --tool/,
    );
    await assert.rejects(
      explain({ principal: "a", action: "tools/call", kind: "robot" }),
      /--kind: Invalid option/,
    );
    await assert.rejects(explain({ principal: "a", action: "tools/call", args: "[1]" }), /--args: /);
    await assert.rejects(
      explain({ principal: "a", action: "tools/call", time: "noon" }),
      /--time: not an ISO 8601 time/,
    );
  });
});

describe("PolicySet.explain", () => {
  const alice: Principal = { id: "alice", kind: "user", roles: ["reader"], authMethod: "bearer" };
  const target: AuthzTarget = { kind: "tool", name: "fs__read", upstream: "fs", labels: {} };
  const { set } = PolicySet.compile(
    [
      { id: "readers", effect: "permit", principals: { roles: ["reader"] } },
      { id: "admins", effect: "permit", principals: { roles: ["admin"] } },
      { id: "not-fs", effect: "forbid", resources: { upstreams: ["db"] } },
      { id: "from-office", effect: "forbid", when: '!inCidr(request.address, "10.0.0.0/8")' },
      { id: "broken", effect: "permit", when: 'resource.labels.risk == "low"' },
      { id: "late", effect: "permit", when: "request.hour >= 22" },
    ].map((doc, i) => ({ policy: policySchema.parse(doc), origin: { file: "p.yaml", line: i + 1 } })),
  );
  const query = (clientAddress: string) => {
    const ctx: RequestContext = {
      id: "c",
      transport: "http",
      era: "modern",
      protocolVersion: "2026-07-28",
      clientAddress,
      principal: alice,
      sessionDigest: undefined,
      clientInfo: undefined,
      findings: {},
    };
    return set.queryFor({
      ctx,
      action: "tools/call",
      target,
      now: Date.parse("2026-11-18T10:00:00Z"),
      timeZone: "UTC",
      ratePerMinute: 1,
      usage: noUsage,
      arguments: undefined,
      argumentKeys: [],
    });
  };

  it("decides as decide does, and traces every candidate's scope and condition", () => {
    const outside = set.explain(query("192.0.2.1"));
    assert.deepEqual(outside.decision, set.decide(query("192.0.2.1")));
    assert.equal(outside.decision.rule, "policy:from-office");
    assert.deepEqual(
      outside.candidates.map((c) => [c.id, c.scopeMatched, c.unmatched, c.condition]),
      [
        ["readers", true, undefined, "absent"],
        ["admins", false, "principals", "skipped"],
        ["not-fs", false, "resources", "skipped"],
        ["from-office", true, undefined, "true"],
        ["broken", true, undefined, "error: No such key: risk"],
        ["late", true, undefined, "false"],
      ],
      "conditions are traced even where the decision stopped early",
    );
    assert.deepEqual(outside.candidates[0]?.origin, { file: "p.yaml", line: 1 });
  });

  it("reports the first condition error as the decision, as decide does", () => {
    const inside = set.explain(query("10.1.2.3"));
    assert.equal(inside.decision.rule, "policy-error:broken");
    assert.equal(inside.candidates.find((c) => c.id === "from-office")?.condition, "false");
  });

  it("builds the CEL input once, only when a condition is read", () => {
    let built = 0;
    const base = query("10.1.2.3");
    set.explain({ ...base, input: () => (built++, base.input()) });
    assert.equal(built, 1);
    const { set: plain } = PolicySet.compile([
      { policy: policySchema.parse({ id: "all", effect: "permit" }) },
    ]);
    plain.explain({ ...base, input: () => (built++, base.input()) });
    assert.equal(built, 1);
  });
});
