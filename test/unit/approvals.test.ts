// Human approvals: the approval book (binding to the exact call, single use, expiry, grants, several
// nodes), the local control socket that reaches it, and the `portcullis approvals` command.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { pino } from "pino";
import {
  callControlSocket,
  ControlSocketError,
  startControlSocket,
  type ControlSocket,
} from "../../src/admin/controlSocket.ts";
import { controlSocketPath, parseDurationMs, runApprovalsCommand } from "../../src/cli/approvals.ts";
import {
  approvalsSection,
  controlSection,
  resolveControlSocketPath,
  defaultSocketPath,
} from "../../src/config/controlSchema.ts";
import { ConfigError } from "../../src/errors.ts";
import {
  ApprovalBook,
  ApprovalError,
  approvalGate,
  argumentsDigest,
  type ApprovalLimits,
  type ApprovalSubject,
} from "../../src/layers/authz/approvals.ts";
import type { Principal, RequestContext } from "../../src/pipeline/types.ts";
import { MemoryStateStore } from "../../src/state/memoryStore.ts";

const silent = pino({ level: "silent" });
const HOUR = 3_600_000;

function fakeClock(start = 1_700_000_000_000) {
  let time = start;
  return { now: () => time, advance: (ms: number) => void (time += ms) };
}

function subject(args: unknown = { path: "/srv/db" }, over: Partial<ApprovalSubject> = {}): ApprovalSubject {
  return {
    principal: "alice",
    principalKey: "bearer\u0000https://issuer\u0000app\u0000\u0000alice",
    method: "tools/call",
    target: "fs_delete",
    upstream: "files",
    argumentsDigest: argumentsDigest(args),
    policy: "deletes-need-approval",
    ...over,
  };
}

const mallory = {
  principal: "mallory",
  principalKey: "bearer\u0000https://issuer\u0000app\u0000\u0000mallory",
};

async function startBook(
  clock = fakeClock(),
  store = new MemoryStateStore(clock.now),
  limits: Partial<ApprovalLimits> = {},
): Promise<ApprovalBook> {
  const book = new ApprovalBook({ store, logger: silent, now: clock.now, limits });
  await book.start();
  return book;
}

async function rejectsWith(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (err: unknown) => err instanceof ApprovalError && err.code === code);
}

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe("argumentsDigest", () => {
  it("is the same for the same arguments in another key order, and differs for other values", () => {
    assert.equal(argumentsDigest({ a: 1, b: [1, 2] }), argumentsDigest({ b: [1, 2], a: 1 }));
    assert.notEqual(argumentsDigest({ a: 1 }), argumentsDigest({ a: 2 }));
    assert.notEqual(argumentsDigest({}), argumentsDigest(undefined));
    assert.match(argumentsDigest({ a: 1 }), /^[A-Za-z0-9_-]{43}$/);
  });
});

describe("ApprovalBook", () => {
  it("lets an approved call through once, and never a second time", async () => {
    const book = await startBook();
    const pending = await book.request(subject(), 60_000);
    assert.equal(pending.status, "pending");
    assert.equal(await book.findStanding(subject()), undefined, "pending is not approved");
    await book.decide(pending.id, "approve", "bob");
    const used = await book.findStanding(subject());
    assert.equal(used?.id, pending.id);
    assert.equal(await book.findStanding(subject()), undefined, "single use");
    book.stop();
  });

  it("refuses an approval replayed with other arguments, or by another principal", async () => {
    const book = await startBook();
    const pending = await book.request(subject({ path: "/srv/db" }), 60_000);
    await book.decide(pending.id, "approve", "bob");
    assert.equal(await book.findStanding(subject({ path: "/" })), undefined);
    assert.equal(await book.findStanding(subject({ path: "/srv/db" }, mallory)), undefined);
    assert.equal(await book.findStanding(subject({ path: "/srv/db" }, { target: "fs_wipe" })), undefined);
    assert.equal((await book.findStanding(subject({ path: "/srv/db" })))?.id, pending.id);
    book.stop();
  });

  it("lets only one of two concurrent calls use a single-use approval", async () => {
    const book = await startBook();
    const pending = await book.request(subject(), 60_000);
    await book.decide(pending.id, "approve", "bob");
    const found = await Promise.all([book.findStanding(subject()), book.findStanding(subject())]);
    assert.equal(found.filter(Boolean).length, 1);
    book.stop();
  });

  it("wakes the waiting call with a denial, and a denial never stands", async () => {
    const book = await startBook();
    const pending = await book.request(subject(), 60_000);
    const waiting = book.wait(pending.id);
    await book.decide(pending.id, "deny", "bob", { note: "not on a Friday" });
    const denied = await waiting;
    assert.equal(denied.status, "denied");
    assert.equal(denied.decidedBy, "bob");
    assert.equal(denied.note, "not on a Friday");
    assert.equal(await book.findStanding(subject()), undefined);
    book.stop();
  });

  it("refuses a call nobody decides on once its time is up (the timeout is a denial)", async (t) => {
    t.mock.timers.enable({ apis: ["setTimeout"] });
    const clock = fakeClock();
    const book = await startBook(clock);
    const pending = await book.request(subject(), 1_000);
    const waiting = book.wait(pending.id);
    await settle();
    clock.advance(1_000);
    t.mock.timers.tick(1_000);
    const expired = await waiting;
    assert.equal(expired.status, "expired");
    await rejectsWith(book.decide(pending.id, "approve", "bob"), "PORTCULLIS_E_APPROVAL_EXPIRED");
    assert.equal(await book.findStanding(subject()), undefined);
    book.stop();
  });

  it("refuses a decision after the deadline even when no call waits any more", async () => {
    const clock = fakeClock();
    const book = await startBook(clock);
    const pending = await book.request(subject(), 1_000);
    clock.advance(1_001);
    await rejectsWith(book.decide(pending.id, "approve", "bob"), "PORTCULLIS_E_APPROVAL_EXPIRED");
    assert.deepEqual(
      (await book.list()).map((a) => a.status),
      ["expired"],
    );
    book.stop();
  });

  it("refuses deciding twice, an unknown id, and an id that is not one", async () => {
    const book = await startBook();
    const pending = await book.request(subject(), 60_000);
    await book.decide(pending.id, "deny", "bob");
    await rejectsWith(book.decide(pending.id, "approve", "eve"), "PORTCULLIS_E_APPROVAL_DECIDED");
    await rejectsWith(book.decide("A".repeat(22), "approve", "bob"), "PORTCULLIS_E_APPROVAL_NOT_FOUND");
    await rejectsWith(book.decide("../../etc", "approve", "bob"), "PORTCULLIS_E_APPROVAL_NOT_FOUND");
    book.stop();
  });

  it("gives ids that cannot be guessed, and that a command line never reads as an option", async () => {
    const book = await startBook();
    const ids = new Set<string>();
    for (let i = 0; i < 20; i++) ids.add((await book.request(subject({ n: i }), 60_000)).id);
    assert.equal(ids.size, 20);
    // 128 random bits in hex: a base64url id began with "-" one time in 64.
    for (const id of ids) assert.match(id, /^[0-9a-f]{32}$/);
    book.stop();
  });

  it("lets a grant cover the same tool with any arguments until it ends, and nobody else", async () => {
    const clock = fakeClock();
    const book = await startBook(clock);
    const pending = await book.request(subject({ path: "/a" }), 60_000);
    const decided = await book.decide(pending.id, "approve", "bob", { grantForMs: HOUR });
    assert.equal(decided.grantUntil, clock.now() + HOUR);
    for (const path of ["/a", "/b", "/c"])
      assert.equal((await book.findStanding(subject({ path })))?.id, pending.id);
    assert.equal(await book.findStanding(subject({ path: "/a" }, mallory)), undefined);
    assert.equal(await book.findStanding(subject({ path: "/a" }, { target: "fs_wipe" })), undefined);
    assert.equal(await book.findStanding(subject({ path: "/a" }, { method: "prompts/get" })), undefined);
    clock.advance(HOUR);
    assert.equal(await book.findStanding(subject({ path: "/b" })), undefined);
    book.stop();
  });

  it("refuses a grant longer than the configured longest, or with a denial", async () => {
    const book = await startBook(undefined, undefined, { maxGrantMs: HOUR });
    const pending = await book.request(subject(), 60_000);
    await rejectsWith(
      book.decide(pending.id, "approve", "bob", { grantForMs: 2 * HOUR }),
      "PORTCULLIS_E_APPROVAL_INVALID",
    );
    await rejectsWith(
      book.decide(pending.id, "deny", "bob", { grantForMs: HOUR }),
      "PORTCULLIS_E_APPROVAL_INVALID",
    );
    await rejectsWith(book.decide(pending.id, "approve", " "), "PORTCULLIS_E_APPROVAL_INVALID");
    assert.equal((await book.decide(pending.id, "approve", "bob", { grantForMs: HOUR })).status, "approved");
    book.stop();
  });

  it("ends a grant that is revoked", async () => {
    const book = await startBook();
    const pending = await book.request(subject(), 60_000);
    await book.decide(pending.id, "approve", "bob", { grantForMs: HOUR });
    const revoked = await book.revoke(pending.id, "carol", "done");
    assert.equal(revoked.revokedBy, "carol");
    assert.equal(await book.findStanding(subject({ other: true })), undefined);
    await rejectsWith(book.revoke(pending.id, "carol"), "PORTCULLIS_E_APPROVAL_DECIDED");
    book.stop();
  });

  it("wakes a call waiting on another node as soon as this node decides", async () => {
    const clock = fakeClock();
    const shared = new MemoryStateStore(clock.now);
    const nodeA = await startBook(clock, shared);
    const nodeB = await startBook(clock, shared);
    const pending = await nodeB.request(subject(), 60_000);
    const waiting = nodeB.wait(pending.id);
    await settle();
    await nodeA.decide(pending.id, "approve", "bob");
    assert.equal((await waiting).status, "approved");
    assert.equal((await nodeB.findStanding(subject()))?.id, pending.id);
    assert.equal(await nodeA.findStanding(subject()), undefined, "used on node B");
    nodeA.stop();
    nodeB.stop();
  });

  it("takes one decision only when two approvers on two nodes decide at once", async () => {
    const clock = fakeClock();
    const shared = new MemoryStateStore(clock.now);
    const nodeA = await startBook(clock, shared);
    const nodeB = await startBook(clock, shared);
    const pending = await nodeA.request(subject(), 60_000);
    const outcomes = await Promise.allSettled([
      nodeA.decide(pending.id, "approve", "bob"),
      nodeB.decide(pending.id, "deny", "carol"),
    ]);
    assert.equal(outcomes.filter((o) => o.status === "fulfilled").length, 1);
    nodeA.stop();
    nodeB.stop();
  });

  it("refuses a flood of approval requests from one principal, not from others", async () => {
    const book = await startBook(undefined, undefined, { maxPendingPerPrincipal: 2 });
    const first = await book.request(subject({ n: 1 }), 60_000);
    await book.request(subject({ n: 2 }), 60_000);
    await rejectsWith(book.request(subject({ n: 3 }), 60_000), "PORTCULLIS_E_APPROVAL_LIMIT");
    await book.request(subject({ n: 3 }, mallory), 60_000);
    await book.decide(first.id, "deny", "bob");
    await book.request(subject({ n: 3 }), 60_000);
    book.stop();
  });

  it("joins the pending approval when the same call asks again, instead of asking twice", async () => {
    const book = await startBook();
    const first = await book.request(subject(), 60_000);
    assert.equal((await book.request(subject(), 60_000)).id, first.id);
    assert.notEqual((await book.request(subject({ other: 1 }), 60_000)).id, first.id);
    book.stop();
  });

  it("marks approvals nobody waits for as expired when it sweeps", async () => {
    const clock = fakeClock();
    const settled: string[] = [];
    const store = new MemoryStateStore(clock.now);
    const book = new ApprovalBook({
      store,
      logger: silent,
      now: clock.now,
      onSettled: (a) => settled.push(a.status),
    });
    await book.start();
    await book.request(subject(), 1_000);
    clock.advance(1_000);
    await book.sweep();
    await book.sweep();
    assert.deepEqual(settled, ["expired"], "settled once");
    assert.deepEqual(
      (await book.list({ status: "pending" })).map((a) => a.id),
      [],
    );
    book.stop();
  });

  it("ends the wait when the call is cancelled, and when the book stops", async () => {
    const book = await startBook();
    const pending = await book.request(subject(), 60_000);
    const controller = new AbortController();
    const waiting = book.wait(pending.id, controller.signal);
    controller.abort(new Error("client cancelled"));
    await assert.rejects(waiting, /client cancelled/);
    assert.equal((await book.get(pending.id))?.status, "pending");
    const stopped = book.wait(pending.id);
    await settle();
    book.stop();
    await assert.rejects(stopped, /stopped/);
  });
});

describe("approvalGate (what the authorization layer calls)", () => {
  const alice: Principal = {
    id: "alice",
    kind: "user",
    roles: [],
    authMethod: "bearer",
    issuer: "https://issuer",
  };
  const ctx = (principal: Principal = alice): RequestContext => ({
    id: "c",
    transport: "http",
    era: "legacy",
    protocolVersion: "2025-11-25",
    clientAddress: "10.0.0.1",
    principal,
    sessionDigest: "s",
    clientInfo: undefined,
    findings: {},
  });
  const question = (args: Record<string, unknown>, signal?: AbortSignal) => ({
    ctx: ctx(),
    action: "tools/call",
    target: { name: "files__delete", upstream: "files" },
    arguments: args,
    policy: "deletes-need-approval",
    reason: "deleting files",
    timeoutMs: 60_000,
    signal,
  });

  async function pendingOne(book: ApprovalBook): Promise<string> {
    for (;;) {
      const [first] = await book.list({ status: "pending" });
      if (first) return first.id;
      await settle();
    }
  }

  it("lets the call through once an approver approves it, and only that call", async () => {
    const book = await startBook();
    const gate = approvalGate(book, { timeoutMs: () => 60_000 }, silent);
    const answer = gate.obtain(question({ path: "/a" }));
    await book.decide(await pendingOne(book), "approve", "bob");
    assert.deepEqual(
      { ...(await answer), id: undefined },
      { approved: true, id: undefined, rule: "approval:deletes-need-approval", reason: "approved by bob" },
    );
    const controller = new AbortController();
    const again = gate.obtain(question({ path: "/a" }, controller.signal));
    await pendingOne(book);
    controller.abort();
    assert.equal((await again).approved, false, "single use: the same call asks again");
    book.stop();
  });

  it("refuses the call an approver denies, saying who and why", async () => {
    const book = await startBook();
    const gate = approvalGate(book, { timeoutMs: () => 60_000 }, silent);
    const answer = gate.obtain(question({ path: "/a" }));
    await book.decide(await pendingOne(book), "deny", "bob", { note: "wrong folder" });
    const refused = await answer;
    assert.equal(refused.approved, false);
    assert.equal(refused.reason, "denied by bob: wrong folder");
    book.stop();
  });

  it("passes at once under a grant, and shows the approver no secret of the arguments", async () => {
    const book = await startBook();
    const gate = approvalGate(book, { timeoutMs: () => 60_000 }, silent);
    const answer = gate.obtain(question({ path: "/a", password: "hunter2-correct-horse" }));
    const id = await pendingOne(book);
    const shown = await book.get(id);
    assert.match(shown?.argumentsPreview ?? "", /"path":"\/a"/);
    assert.doesNotMatch(shown?.argumentsPreview ?? "", /hunter2/);
    await book.decide(id, "approve", "bob", { grantForMs: HOUR });
    assert.equal((await answer).approved, true);
    assert.equal((await gate.obtain(question({ path: "/b" }))).approved, true);
    book.stop();
  });

  it("refuses at once when the principal already has too many approvals waiting", async () => {
    const book = await startBook(undefined, undefined, { maxPendingPerPrincipal: 1 });
    const gate = approvalGate(book, { timeoutMs: () => 60_000 }, silent);
    const controller = new AbortController();
    const first = gate.obtain(question({ n: 1 }, controller.signal));
    await pendingOne(book);
    const second = await gate.obtain(question({ n: 2 }));
    assert.equal(second.approved, false);
    assert.match(second.reason, /Too many approvals/);
    controller.abort();
    await first;
    book.stop();
  });
});

describe("control socket", () => {
  let dir: string;
  let path: string;
  let book: ApprovalBook;
  let control: ControlSocket;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "pc-ctl-"));
    path = join(dir, "portcullis.sock");
    book = await startBook({ now: Date.now, advance: () => undefined }, new MemoryStateStore());
    control = await startControlSocket({ path, approvals: book, logger: silent });
  });

  after(async () => {
    await control.close();
    book.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const post = (id: string, action: string, body: unknown) =>
    callControlSocket(path, "POST", `/approvals/${id}/${action}`, body);

  it("is created with mode 0600", () => {
    assert.equal(statSync(path).mode & 0o777, 0o600);
  });

  it("lists pending approvals and approves one, waking the waiting call", async () => {
    const pending = await book.request(subject({ list: 1 }), 60_000);
    const listed = await callControlSocket(path, "GET", "/approvals?status=pending");
    assert.equal(listed.status, 200);
    assert.ok((listed.body as { approvals: { id: string }[] }).approvals.some((a) => a.id === pending.id));
    const waiting = book.wait(pending.id);
    const reply = await post(pending.id, "approve", { approver: "bob", grantForMs: 60_000 });
    assert.equal(reply.status, 200);
    assert.equal((await waiting).status, "approved");
    assert.ok(await book.findStanding(subject({ anything: "else" })));
  });

  it("denies one", async () => {
    const pending = await book.request(subject({ deny: 1 }), 60_000);
    const reply = await post(pending.id, "deny", { approver: "bob", note: "no" });
    assert.equal(reply.status, 200);
    assert.equal((reply.body as { approval: { status: string } }).approval.status, "denied");
  });

  it("answers 404 for an unknown id and 409 for a decided one", async () => {
    assert.equal((await post("A".repeat(22), "approve", { approver: "bob" })).status, 404);
    const pending = await book.request(subject({ twice: 1 }), 60_000);
    await post(pending.id, "deny", { approver: "bob" });
    const again = await post(pending.id, "approve", { approver: "eve" });
    assert.equal(again.status, 409);
    assert.equal((again.body as { error: { code: string } }).error.code, "PORTCULLIS_E_APPROVAL_DECIDED");
  });

  it("answers 400 for a bad body and 413 for a huge one", async () => {
    const pending = await book.request(subject({ bad: 1 }), 60_000);
    assert.equal((await post(pending.id, "approve", {})).status, 400);
    assert.equal((await post(pending.id, "approve", { approver: "bob", admin: true })).status, 400);
    assert.equal((await post(pending.id, "deny", { approver: "bob", grantForMs: 1000 })).status, 400);
    assert.equal(
      (await post(pending.id, "approve", { approver: "bob", note: "x".repeat(20_000) })).status,
      413,
    );
    assert.equal((await book.get(pending.id))?.status, "pending");
  });

  it("answers 404 for an unknown path and 405 for a wrong method", async () => {
    assert.equal((await callControlSocket(path, "GET", "/secrets")).status, 404);
    assert.equal((await callControlSocket(path, "POST", "/approvals", {})).status, 405);
  });

  it("refuses to start while another gateway listens on the socket", async () => {
    await assert.rejects(
      startControlSocket({ path, approvals: book, logger: silent }),
      (err: unknown) => err instanceof ControlSocketError && err.problem === "in-use",
    );
    assert.equal(
      (await callControlSocket(path, "GET", "/approvals")).status,
      200,
      "the first one still serves",
    );
  });

  it("replaces a stale socket left by a gateway that died", async () => {
    const stale = join(dir, "stale.sock");
    const died = spawnSync(process.execPath, [
      "-e",
      `require("node:net").createServer().listen(${JSON.stringify(stale)}, () => process.kill(process.pid, "SIGKILL"))`,
    ]);
    assert.equal(died.signal, "SIGKILL");
    assert.ok(existsSync(stale));
    const replaced = await startControlSocket({ path: stale, approvals: book, logger: silent });
    assert.equal((await callControlSocket(stale, "GET", "/approvals")).status, 200);
    await replaced.close();
    assert.equal(existsSync(stale), false, "removed at shutdown");
  });

  it("refuses a path that is not a socket, and leaves the file alone", async () => {
    const file = join(dir, "notes.txt");
    writeFileSync(file, "keep me");
    await assert.rejects(startControlSocket({ path: file, logger: silent }), /not a socket/);
    assert.ok(existsSync(file));
  });

  it("refuses a directory others can write to (they could swap the socket)", async () => {
    const open = mkdtempSync(join(tmpdir(), "pc-open-"));
    chmodSync(open, 0o777);
    try {
      await assert.rejects(
        startControlSocket({ path: join(open, "c.sock"), logger: silent }),
        /writable by others/,
      );
    } finally {
      rmSync(open, { recursive: true, force: true });
    }
  });

  it("refuses a socket path too long for a Unix domain socket, with a clear error", async () => {
    const long = join(dir, "x".repeat(120));
    await assert.rejects(startControlSocket({ path: long, logger: silent }), /at most 10\d/);
  });

  describe("portcullis approvals", () => {
    function capture() {
      const out: string[] = [];
      const err: string[] = [];
      return {
        out,
        err,
        output: { out: (t: string) => void out.push(t), err: (t: string) => void err.push(t) },
      };
    }

    it("lists what waits for a decision", async () => {
      const pending = await book.request(subject({ cli: "list" }, { target: "db_drop" }), 60_000);
      const { out, output } = capture();
      assert.equal(await runApprovalsCommand("list", [], { socket: path }, output), 0);
      const text = out.join("");
      assert.match(text, /^ID\s+AGE\s+PRINCIPAL\s+TARGET\s+POLICY\s+EXPIRES IN/);
      assert.ok(text.includes(pending.id) && text.includes("db_drop"));
      const json = capture();
      assert.equal(await runApprovalsCommand("list", [], { socket: path, json: true }, json.output), 0);
      assert.ok(json.out.some((line) => (JSON.parse(line) as { id: string }).id === pending.id));
    });

    it("approves with a grant, named after the approver", async () => {
      const pending = await book.request(subject({ cli: "grant" }, { target: "deploy" }), 60_000);
      const { out, output } = capture();
      const code = await runApprovalsCommand(
        "approve",
        [pending.id],
        { socket: path, grant: "1h", as: "ops-bob", note: "release" },
        output,
      );
      assert.equal(code, 0);
      assert.match(out.join(""), /may call deploy with any arguments until/);
      const approval = await book.get(pending.id);
      assert.equal(approval?.decidedBy, "ops-bob");
      assert.ok(await book.findStanding(subject({ another: "call" }, { target: "deploy" })));
    });

    it("reports what the gateway refused, with its code", async () => {
      const { err, output } = capture();
      assert.equal(await runApprovalsCommand("deny", ["A".repeat(22)], { socket: path }, output), 1);
      assert.match(err.join(""), /PORTCULLIS_E_APPROVAL_NOT_FOUND/);
    });

    it("says when no gateway is listening", async () => {
      const { err, output } = capture();
      const missing = join(dir, "nobody.sock");
      assert.equal(await runApprovalsCommand("list", [], { socket: missing }, output), 2);
      assert.match(err.join(""), /no gateway is listening on .*nobody\.sock/);
    });

    it("finds the socket from the config file's control section", async () => {
      const config = join(dir, "portcullis.yaml");
      writeFileSync(config, "version: 1\nupstreams: {}\nsecret: ${env:NOT_SET_ANYWHERE}\n");
      assert.equal(controlSocketPath({ config }), defaultSocketPath(config));
      writeFileSync(config, "version: 1\ncontrol:\n  socket: run/other.sock\n");
      assert.equal(controlSocketPath({ config }), join(dir, "run", "other.sock"));
      writeFileSync(config, "control:\n  enabled: false\n");
      assert.throws(() => controlSocketPath({ config }), /turns the control socket off/);
      assert.throws(() => controlSocketPath({}), /--config FILE/);
    });

    it("refuses a grant without approve, and durations it cannot read", async () => {
      await assert.rejects(runApprovalsCommand("deny", ["x"], { socket: path, grant: "1h" }), /approve only/);
      await assert.rejects(runApprovalsCommand("approve", ["x"], { socket: path, grant: "soon" }), /30m, 1h/);
      await assert.rejects(runApprovalsCommand("approve", [], { socket: path }), /name the approval/);
      await assert.rejects(runApprovalsCommand("bless", [], { socket: path }), /unknown approvals command/);
    });
  });
});

describe("control and approvals config", () => {
  it("parses durations as the CLI takes them", () => {
    assert.equal(parseDurationMs("30m"), 30 * 60_000);
    assert.equal(parseDurationMs("1h"), HOUR);
    assert.equal(parseDurationMs("8h"), 8 * HOUR);
    assert.equal(parseDurationMs("2d"), 48 * HOUR);
    for (const bad of ["0h", "1x", "-1h", "h", "1.5h"]) assert.throws(() => parseDurationMs(bad));
  });

  it("defaults to a private socket outside the config folder, and to bounded approvals", () => {
    assert.deepEqual(controlSection.parse(undefined), { enabled: true });
    assert.deepEqual(approvalsSection.parse(undefined), {
      timeoutMs: 120_000,
      maxGrantMs: 8 * HOUR,
      maxPendingPerPrincipal: 20,
      usableForMs: 300_000,
    });
    const path = resolveControlSocketPath(
      "/etc/portcullis",
      controlSection.parse({}),
      "/etc/portcullis/p.yaml",
    );
    assert.ok(!path.startsWith("/etc/portcullis/"), "upstreams start in the config folder: not there");
    const dir = dirname(path);
    assert.equal(statSync(dir).mode & 0o077, 0, "a folder only its owner can enter");
    assert.equal(
      resolveControlSocketPath("/etc/portcullis", controlSection.parse({}), "/etc/portcullis/p.yaml"),
      path,
      "the CLI finds the same socket for the same config",
    );
    assert.notEqual(resolveControlSocketPath("/etc/portcullis", {}, "/etc/portcullis/q.yaml"), path);
    assert.equal(
      resolveControlSocketPath("/etc/portcullis", { socket: "run/p.sock" }, "/etc/portcullis/p.yaml"),
      "/etc/portcullis/run/p.sock",
    );
  });

  it("names control.socket when the path is too long for a Unix domain socket", () => {
    assert.throws(
      () => resolveControlSocketPath("/srv", { socket: "d/".repeat(60) + "s.sock" }, "/srv/p.yaml"),
      (err: unknown) => err instanceof ConfigError && err.issues[0]?.path === "control.socket",
    );
  });
});
