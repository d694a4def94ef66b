// Human approvals: a call that a policy permits only with a human's consent waits until an approver
// decides, or the approval expires (a refusal). Kept in the state store, so every node sees them.
import { createHash, randomBytes } from "node:crypto";
import canonicalize from "canonicalize";
import type { Logger } from "pino";
import { principalKey, type RequestContext } from "../../pipeline/types.ts";
import { redact } from "../../redaction/redact.ts";
import type { StateStore, Unsubscribe } from "../../state/store.ts";

export type ApprovalStatus = "pending" | "approved" | "denied" | "expired";

/** The call that asks for approval; the binding is principalKey + method + target + argumentsDigest. */
export interface ApprovalSubject {
  /** The principal's id, shown to the approver. */
  readonly principal: string;
  /** What the approval is bound to (`principalKey()` of the pipeline). */
  readonly principalKey: string;
  readonly method: string;
  /** The public tool, prompt or resource name. */
  readonly target: string;
  readonly upstream?: string;
  /** `argumentsDigest(arguments)`: the approval holds for these exact arguments only. */
  readonly argumentsDigest: string;
  /** What the approver is shown of the arguments: the layer redacts it first; cut at 2000 characters. */
  readonly argumentsPreview?: string;
  /** The policy that asked. */
  readonly policy: string;
  readonly reason?: string;
  readonly clientAddress?: string;
}

export interface Approval extends ApprovalSubject {
  readonly id: string;
  readonly createdAt: number;
  /** The deadline for a decision; a pending approval past it is expired (the call was refused). */
  readonly expiresAt: number;
  readonly status: ApprovalStatus;
  readonly decidedBy?: string;
  readonly decidedAt?: number;
  readonly note?: string;
  /** Approved for one call: that call can be made once until then (retried, if its caller gave up). */
  readonly usableUntil?: number;
  /** When the single-use approval was used. */
  readonly usedAt?: number;
  /** Just-in-time access: the principal may call the target, with any arguments, until then. */
  readonly grantUntil?: number;
  readonly revokedBy?: string;
  readonly revokedAt?: number;
}

export interface ApprovalLimits {
  /** Pending approvals one principal may have at a time; more are refused. */
  readonly maxPendingPerPrincipal: number;
  /** The longest just-in-time grant an approver may give. */
  readonly maxGrantMs: number;
  /** How long an approved call can still be made once, when its caller stopped waiting. */
  readonly usableForMs: number;
}

export const defaultApprovalLimits: ApprovalLimits = {
  maxPendingPerPrincipal: 20,
  maxGrantMs: 8 * 3_600_000,
  usableForMs: 300_000,
};

export const approvalErrors = {
  PORTCULLIS_E_APPROVAL_NOT_FOUND: { http: 404, message: "No such approval (unknown id, or long ended)" },
  PORTCULLIS_E_APPROVAL_DECIDED: { http: 409, message: "The approval was already decided" },
  PORTCULLIS_E_APPROVAL_EXPIRED: {
    http: 409,
    message: "The approval expired before a decision (the call was refused)",
  },
  PORTCULLIS_E_APPROVAL_INVALID: { http: 400, message: "Invalid approval decision" },
  PORTCULLIS_E_APPROVAL_LIMIT: { http: 429, message: "Too many approvals are pending" },
} as const;

export type ApprovalErrorCode = keyof typeof approvalErrors;

export class ApprovalError extends Error {
  readonly code: ApprovalErrorCode;
  readonly httpStatus: number;

  constructor(code: ApprovalErrorCode, detail?: string) {
    const entry = approvalErrors[code];
    super(detail ? `${entry.message}: ${detail}` : entry.message);
    this.name = "ApprovalError";
    this.code = code;
    this.httpStatus = entry.http;
  }
}

/** SHA-256 over the canonical JSON (RFC 8785) of the arguments, base64url; absent arguments are null. */
export function argumentsDigest(args: unknown): string {
  const text = canonicalize(args ?? null);
  if (text === undefined) throw new Error("arguments cannot be encoded as JSON");
  return digest(text);
}

export interface ApprovalBookOptions {
  readonly store: StateStore;
  readonly logger: Logger;
  readonly now?: () => number;
  readonly limits?: Partial<ApprovalLimits>;
  /** Called once per outcome (approved, denied, expired, revoked), on the node that settled it: audit it. */
  readonly onSettled?: (approval: Approval) => void;
}

const CHANNEL = "portcullis:approvals";
const INDEX = "appr:index";
/** Records that ended stay listed this long, and long enough for waiters on other nodes to read them. */
const RETAIN_MS = 15 * 60_000;
/** Approvals the store holds at most, all principals together. */
const MAX_RECORDS = 10_000;
/** When an approver claimed a decision but has not written it yet, waiters look again this often. */
const CLAIM_POLL_MS = 500;
/** ...and give up (a refusal) this long after the deadline. */
const CLAIM_GRACE_MS = 5_000;
/** An approval stays usable at least this long, so that the call waiting for it (on any node) can use it. */
const MIN_USABLE_MS = 5_000;
// Hex now; base64url before (ids still pending in a shared store from an older node).
const ID_PATTERN = /^(?:[0-9a-f]{32}|[A-Za-z0-9_-]{22})$/;
const MAX_TIMER_MS = 2 ** 31 - 1;

const recordKey = (id: string) => `appr:rec:${id}`;
const claimKey = (id: string) => `appr:claim:${id}`;
const useKey = (id: string) => `appr:use:${id}`;
const pendingKey = (principalDigest: string) => `appr:pending:${principalDigest}`;

export class ApprovalBook {
  private readonly store: StateStore;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly onSettled: ((approval: Approval) => void) | undefined;
  private limits: ApprovalLimits;
  private readonly waiters = new Map<string, Set<Waiter>>();
  private unsubscribe: Unsubscribe | undefined;
  private sweeper: NodeJS.Timeout | undefined;

  constructor(options: ApprovalBookOptions) {
    this.store = options.store;
    this.log = options.logger;
    this.now = options.now ?? Date.now;
    this.onSettled = options.onSettled;
    this.limits = withFloor({ ...defaultApprovalLimits, ...options.limits });
  }

  /** Follows decisions taken on any node; sweeps expired approvals once a minute. */
  async start(): Promise<void> {
    this.unsubscribe = this.store.subscribe(CHANNEL, (message) => this.onMessage(message));
    this.sweeper = setInterval(() => {
      this.sweep().catch((err: unknown) => this.log.error({ err }, "approval sweep failed"));
    }, 60_000);
    this.sweeper.unref();
  }

  /** Stops following decisions; calls still waiting end with an error (so they are refused). */
  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    if (this.sweeper) clearInterval(this.sweeper);
    for (const waiters of [...this.waiters.values()]) for (const waiter of waiters) waiter.stopped();
    this.waiters.clear();
  }

  /** New limits (a config reload); approvals already given keep theirs. */
  configure(limits: Partial<ApprovalLimits>): void {
    this.limits = withFloor({ ...this.limits, ...limits });
  }

  /**
   * A grant in force for this principal and target, or else an approved, unused approval for exactly
   * these arguments, which this call uses up: of two concurrent calls, only one gets it.
   */
  async findStanding(subject: ApprovalSubject): Promise<Approval | undefined> {
    const now = this.now();
    const grantId = await this.store.get(grantKey(subject));
    if (grantId !== undefined) {
      const grant = await this.read(grantId);
      if (grant && sameTarget(grant, subject) && (grant.grantUntil ?? 0) > now && grant.status === "approved")
        return grant;
    }
    const boundKey = bindingKey(subject);
    const boundId = await this.store.get(boundKey);
    if (boundId === undefined) return undefined;
    const approval = await this.read(boundId);
    if (
      !approval ||
      approval.status !== "approved" ||
      approval.usedAt !== undefined ||
      (approval.usableUntil ?? 0) <= now ||
      !sameTarget(approval, subject) ||
      approval.argumentsDigest !== subject.argumentsDigest
    )
      return undefined;
    // The counter is the store's one atomic operation: the first call to count 1 owns the approval.
    if ((await this.store.increment(useKey(approval.id), 1, RETAIN_MS + this.limits.usableForMs)) !== 1)
      return undefined;
    const used: Approval = { ...approval, usedAt: now };
    await this.write(used);
    await this.store.delete(boundKey);
    return used;
  }

  /**
   * A pending approval for this call, whose decision is due within `waitMs`. The same call asked again
   * while one is pending (a client retrying) joins that one instead of asking the approver twice.
   */
  async request(subject: ApprovalSubject, waitMs: number): Promise<Approval> {
    if (!Number.isFinite(waitMs) || waitMs <= 0) throw new RangeError(`waitMs must be positive (${waitMs})`);
    const openKey = `appr:open:${bindingDigest(subject)}`;
    const openId = await this.store.get(openKey);
    const open = openId === undefined ? undefined : await this.read(openId);
    if (
      open?.status === "pending" &&
      open.argumentsDigest === subject.argumentsDigest &&
      sameTarget(open, subject)
    )
      return open;
    const principalDigest = digest(subject.principalKey);
    const pending = await this.countPending(principalDigest);
    if (pending >= this.limits.maxPendingPerPrincipal)
      throw new ApprovalError(
        "PORTCULLIS_E_APPROVAL_LIMIT",
        `${subject.principal} has ${pending} waiting for a decision (at most ${this.limits.maxPendingPerPrincipal})`,
      );
    if ((await this.store.members(INDEX)).length >= MAX_RECORDS) {
      await this.sweep();
      if ((await this.store.members(INDEX)).length >= MAX_RECORDS)
        throw new ApprovalError("PORTCULLIS_E_APPROVAL_LIMIT", `the gateway holds ${MAX_RECORDS} approvals`);
    }
    const now = this.now();
    const approval: Approval = {
      ...subjectOf(subject),
      // Hex: an id is typed on command lines, where a leading "-" (one base64url id in 64) reads as an option.
      id: randomBytes(16).toString("hex"),
      createdAt: now,
      expiresAt: now + waitMs,
      status: "pending",
    };
    await this.write(approval);
    await this.store.addToSet(INDEX, `${approval.id}:${principalDigest}`);
    await this.store.addToSet(pendingKey(principalDigest), approval.id);
    await this.store.set(openKey, approval.id, waitMs);
    this.log.info(
      {
        approval: approval.id,
        principal: approval.principal,
        target: approval.target,
        policy: approval.policy,
      },
      "approval requested",
    );
    return approval;
  }

  /**
   * Resolves with the approval once it is decided or expired (status "expired": the timeout is a
   * refusal). Aborting the signal rejects with its reason; the approval itself stays pending.
   */
  wait(id: string, signal?: AbortSignal): Promise<Approval> {
    return new Promise<Approval>((resolve, reject) => {
      if (signal?.aborted) return reject(abortReason(signal));
      let timer: NodeJS.Timeout | undefined;
      const waiters = this.waiters.get(id) ?? new Set<Waiter>();
      const end = () => {
        if (timer) clearTimeout(timer);
        waiters.delete(waiter);
        if (waiters.size === 0 && this.waiters.get(id) === waiters) this.waiters.delete(id);
        signal?.removeEventListener("abort", onAbort);
      };
      const fail = (err: Error) => {
        end();
        reject(err);
      };
      const waiter: Waiter = {
        decided: (approval) => {
          if (approval.status === "pending") return;
          end();
          resolve(approval);
        },
        stopped: () => fail(new Error("the approval book stopped")),
      };
      const onAbort = () => fail(abortReason(signal));
      const check = () => {
        this.settle(id).then((approval) => {
          if (!waiters.has(waiter)) return;
          if (!approval) return fail(new ApprovalError("PORTCULLIS_E_APPROVAL_NOT_FOUND", id));
          if (approval.status !== "pending") return waiter.decided(approval);
          const left = approval.expiresAt - this.now();
          // Past the deadline but claimed by an approver: their decision is on its way.
          timer = setTimeout(check, left > 0 ? Math.min(left, MAX_TIMER_MS) : CLAIM_POLL_MS);
          timer.unref();
        }, fail);
      };
      // Listen before reading, so that a decision between the two is not missed.
      this.waiters.set(id, waiters.add(waiter));
      signal?.addEventListener("abort", onAbort, { once: true });
      check();
    });
  }

  /** An approver's decision; `grantForMs` (approve only) lets the principal call the target freely. */
  async decide(
    id: string,
    decision: "approve" | "deny",
    approver: string,
    options: { grantForMs?: number; note?: string } = {},
  ): Promise<Approval> {
    checkApprover(approver, options.note);
    const { grantForMs } = options;
    if (grantForMs !== undefined) {
      if (decision !== "approve")
        throw new ApprovalError("PORTCULLIS_E_APPROVAL_INVALID", "only an approval grants");
      if (!Number.isInteger(grantForMs) || grantForMs <= 0 || grantForMs > this.limits.maxGrantMs)
        throw new ApprovalError(
          "PORTCULLIS_E_APPROVAL_INVALID",
          `a grant lasts from 1 ms to ${this.limits.maxGrantMs} ms (authorization.approvals.maxGrantMs)`,
        );
    }
    const record = await this.pendingRecord(id);
    if (!(await this.claimDecision(id)))
      throw new ApprovalError("PORTCULLIS_E_APPROVAL_DECIDED", "another decision was taken meanwhile");
    const now = this.now();
    const approve = decision === "approve";
    const decided: Approval = {
      ...record,
      status: approve ? "approved" : "denied",
      decidedBy: approver,
      decidedAt: now,
      note: options.note,
      grantUntil: approve && grantForMs !== undefined ? now + grantForMs : undefined,
      usableUntil: approve && grantForMs === undefined ? now + this.limits.usableForMs : undefined,
    };
    await this.write(decided);
    if (approve && grantForMs !== undefined) await this.store.set(grantKey(decided), id, grantForMs);
    else if (approve) await this.store.set(bindingKey(decided), id, this.limits.usableForMs);
    await this.settled(decided);
    this.log.info(
      { approval: id, decision, approver, principal: decided.principal, target: decided.target, grantForMs },
      "approval decided",
    );
    return decided;
  }

  /** Ends a grant, or an approval not used yet, before its time. */
  async revoke(id: string, approver: string, note?: string): Promise<Approval> {
    checkApprover(approver, note);
    const record = await this.existing(id);
    const now = this.now();
    const granted = record.grantUntil !== undefined && record.grantUntil > now;
    const unused = record.usedAt === undefined && (record.usableUntil ?? 0) > now;
    if (record.status !== "approved" || !(granted || unused))
      throw new ApprovalError(
        "PORTCULLIS_E_APPROVAL_DECIDED",
        record.status === "pending" ? "it is pending: deny it instead" : "nothing of it is in force",
      );
    const revoked: Approval = {
      ...record,
      revokedBy: approver,
      revokedAt: now,
      note: note ?? record.note,
      ...(granted ? { grantUntil: now } : { usableUntil: now }),
    };
    await this.write(revoked);
    const key = granted ? grantKey(record) : bindingKey(record);
    if ((await this.store.get(key)) === id) await this.store.delete(key);
    await this.settled(revoked);
    this.log.info(
      { approval: id, approver, principal: record.principal, target: record.target },
      "approval revoked",
    );
    return revoked;
  }

  /** Approvals the store holds (pending ones past their deadline show as expired), newest first. */
  async list(options: { status?: ApprovalStatus } = {}): Promise<Approval[]> {
    const found = await Promise.all(
      (await this.store.members(INDEX)).map(async (member) => {
        const approval = await this.read(member.split(":")[0] ?? "");
        if (!approval) await this.forget(member);
        return approval;
      }),
    );
    return found
      .filter(
        (a): a is Approval =>
          a !== undefined && (options.status === undefined || a.status === options.status),
      )
      .sort((a, b) => b.createdAt - a.createdAt);
  }

  /** One approval, as `list` shows it. */
  async get(id: string): Promise<Approval | undefined> {
    return ID_PATTERN.test(id) ? this.read(id) : undefined;
  }

  /** Marks pending approvals past their deadline as expired and forgets ended ones (every minute). */
  async sweep(): Promise<void> {
    for (const member of await this.store.members(INDEX)) {
      const id = member.split(":")[0] ?? "";
      const approval = await this.settle(id);
      if (!approval) await this.forget(member);
    }
  }

  /** The stored approval, with a pending one past its deadline shown as expired. */
  private async read(id: string): Promise<Approval | undefined> {
    const stored = await this.readStored(id);
    if (stored?.status === "pending" && stored.expiresAt <= this.now())
      return { ...stored, status: "expired" };
    return stored;
  }

  private async readStored(id: string): Promise<Approval | undefined> {
    const text = await this.store.get(recordKey(id));
    if (text === undefined) return undefined;
    try {
      return JSON.parse(text) as Approval;
    } catch {
      this.log.warn({ approval: id }, "ignored a malformed approval record");
      return undefined;
    }
  }

  /** Writes the record, kept as long as any of it is in force, and RETAIN_MS more. */
  private async write(approval: Approval): Promise<void> {
    const inForceUntil = Math.max(
      approval.status === "pending" ? approval.expiresAt : 0,
      approval.usableUntil ?? 0,
      approval.grantUntil ?? 0,
      this.now(),
    );
    await this.store.set(
      recordKey(approval.id),
      JSON.stringify(approval),
      inForceUntil - this.now() + RETAIN_MS,
    );
  }

  /** The record, if it can still be decided; a typed refusal otherwise. */
  private async pendingRecord(id: string): Promise<Approval> {
    const record = await this.existing(id);
    if (record.status === "expired" || (record.status === "pending" && record.expiresAt <= this.now())) {
      await this.settle(id);
      throw new ApprovalError("PORTCULLIS_E_APPROVAL_EXPIRED", `${id} expired at ${iso(record.expiresAt)}`);
    }
    if (record.status !== "pending")
      throw new ApprovalError(
        "PORTCULLIS_E_APPROVAL_DECIDED",
        `${id} was ${record.status}${record.decidedBy ? ` by ${record.decidedBy}` : ""}`,
      );
    return record;
  }

  private async existing(id: string): Promise<Approval> {
    const record = ID_PATTERN.test(id) ? await this.readStored(id) : undefined;
    if (!record) throw new ApprovalError("PORTCULLIS_E_APPROVAL_NOT_FOUND", id);
    return record;
  }

  /** One decision per approval, whichever node or approver comes first; expiry counts as one. */
  private async claimDecision(id: string): Promise<boolean> {
    return (await this.store.increment(claimKey(id), 1, RETAIN_MS)) === 1;
  }

  /**
   * The approval as it stands; a pending one past its deadline is marked expired first (by whoever
   * claims that, once). A deadline an approver claimed but did not write within the grace is a refusal.
   */
  private async settle(id: string): Promise<Approval | undefined> {
    const record = await this.readStored(id);
    const now = this.now();
    if (!record || record.status !== "pending" || record.expiresAt > now) return record;
    if (await this.claimDecision(id)) {
      const expired: Approval = { ...record, status: "expired" };
      await this.write(expired);
      await this.settled(expired);
      this.log.info({ approval: id, principal: record.principal, target: record.target }, "approval expired");
      return expired;
    }
    return now >= record.expiresAt + CLAIM_GRACE_MS ? { ...record, status: "expired" } : record;
  }

  /** After an outcome: the pending indexes forget it, every node's waiters learn it, audit hears it. */
  private async settled(approval: Approval): Promise<void> {
    await this.store.removeFromSet(pendingKey(digest(approval.principalKey)), approval.id);
    const openKey = `appr:open:${bindingDigest(approval)}`;
    if ((await this.store.get(openKey)) === approval.id) await this.store.delete(openKey);
    await this.store.publish(CHANNEL, JSON.stringify({ approval }));
    try {
      this.onSettled?.(approval);
    } catch (err) {
      this.log.error({ err, approval: approval.id }, "approval listener failed");
    }
  }

  private async countPending(principalDigest: string): Promise<number> {
    let count = 0;
    for (const id of await this.store.members(pendingKey(principalDigest))) {
      const approval = await this.read(id);
      if (approval?.status === "pending") count++;
      else await this.store.removeFromSet(pendingKey(principalDigest), id);
    }
    return count;
  }

  private async forget(member: string): Promise<void> {
    const [id = "", principalDigest = ""] = member.split(":");
    await this.store.removeFromSet(INDEX, member);
    await this.store.removeFromSet(pendingKey(principalDigest), id);
  }

  private onMessage(text: string): void {
    let approval: Approval;
    try {
      approval = (JSON.parse(text) as { approval: Approval }).approval;
    } catch {
      this.log.warn("ignored a malformed approval message");
      return;
    }
    if (typeof approval?.id !== "string") return;
    for (const waiter of [...(this.waiters.get(approval.id) ?? [])]) waiter.decided(approval);
  }
}

/** What the authorization layer asks when a permit carries the obligation "human approval". */
export interface ApprovalQuestion {
  readonly ctx: RequestContext;
  /** The MCP method (a policy action). */
  readonly action: string;
  readonly target: { readonly name: string; readonly upstream: string };
  readonly arguments: Record<string, unknown> | undefined;
  readonly policy: string;
  readonly reason: string | undefined;
  /** The policy's own wait; the configured one (`authorization.approvals.timeoutMs`) otherwise. */
  readonly timeoutMs: number | undefined;
  /** The client cancelled the call: stop waiting (the approval stays pending). */
  readonly signal?: AbortSignal;
}

export interface ApprovalAnswer {
  readonly approved: boolean;
  readonly id: string | undefined;
  /** `approval:<policy>`: the rule a refusal names. */
  readonly rule: string;
  readonly reason: string;
}

/**
 * The whole exchange for one call: a standing approval or grant lets it through at once; otherwise
 * it asks, waits and, once approved, uses the approval (single use). Any failure is a refusal.
 */
export function approvalGate(
  book: ApprovalBook,
  settings: { timeoutMs: () => number },
  logger: Logger,
): { obtain(question: ApprovalQuestion): Promise<ApprovalAnswer> } {
  return {
    async obtain(question) {
      const { ctx } = question;
      const rule = `approval:${question.policy}`;
      const subject: ApprovalSubject = {
        principal: ctx.principal.id,
        principalKey: principalKey(ctx.principal),
        method: question.action,
        target: question.target.name,
        upstream: question.target.upstream,
        argumentsDigest: argumentsDigest(question.arguments),
        argumentsPreview: argumentsPreview(question.arguments),
        policy: question.policy,
        reason: question.reason,
        clientAddress: ctx.clientAddress,
      };
      try {
        const standing = await book.findStanding(subject);
        if (standing)
          return { approved: true, id: standing.id, rule, reason: `approved by ${standing.decidedBy}` };
        const pending = await book.request(subject, question.timeoutMs ?? settings.timeoutMs());
        const outcome = await waitWithUser(book, pending, question);
        if (outcome === "declined") {
          await book
            .decide(pending.id, "deny", `${ctx.principal.id} (the requester)`, { note: "the user cancelled" })
            .catch(() => undefined);
          return {
            approved: false,
            id: pending.id,
            rule,
            reason: "the user declined to wait for an approval",
          };
        }
        // Approved: use it now, unless a concurrent identical call was quicker (single use).
        const used = outcome.status === "approved" ? await book.findStanding(subject) : undefined;
        if (used) return { approved: true, id: used.id, rule, reason: `approved by ${used.decidedBy}` };
        return { approved: false, id: outcome.id, rule, reason: refusalReason(outcome) };
      } catch (err) {
        if (err instanceof ApprovalError)
          return { approved: false, id: undefined, rule, reason: err.message };
        if (question.signal?.aborted)
          return { approved: false, id: undefined, rule, reason: "the call was cancelled" };
        logger.error({ err, target: subject.target }, "approval could not be obtained; refused");
        return { approved: false, id: undefined, rule, reason: "the approval could not be obtained" };
      }
    },
  };
}

/**
 * Waits for the approver. A client that can show a form is told too (a 2025 session: an elicitation
 * on the request's stream; a 2026-07-28 client: an input-required round while the call waits): the
 * user may cancel. Accepting only keeps waiting — the user never stands in for the approver.
 */
async function waitWithUser(
  book: ApprovalBook,
  pending: Approval,
  question: ApprovalQuestion,
): Promise<Approval | "declined"> {
  const client = question.ctx.client;
  if (!client?.canElicit) return book.wait(pending.id, question.signal);
  const asking = new AbortController();
  const forever = new Promise<never>(() => undefined);
  const declined = client
    .ask(
      "elicitation/create",
      {
        message: `Portcullis: ${question.target.name} needs a human approval (request ${pending.id}${
          question.reason ? `: ${question.reason}` : ""
        }). An approver has been asked; the call goes on once they decide. Accept to keep waiting, decline to cancel the call.`,
        requestedSchema: { type: "object", properties: {} },
      },
      asking.signal,
    )
    .then((answer) => (answer.action === "accept" ? forever : ("declined" as const)))
    // A client that cannot answer just waits for the approver.
    .catch(() => forever);
  try {
    return await Promise.race([book.wait(pending.id, question.signal), declined]);
  } finally {
    asking.abort();
  }
}

function refusalReason(approval: Approval): string {
  const note = approval.note ? `: ${approval.note}` : "";
  if (approval.status === "denied") return `denied by ${approval.decidedBy ?? "an approver"}${note}`;
  if (approval.status === "expired") return "no approver decided in time";
  return "the approval was already used";
}

/** What the approver sees of the arguments: redacted (secrets, personal data), cut to 2000 characters. */
function argumentsPreview(args: Record<string, unknown> | undefined): string | undefined {
  return args === undefined ? undefined : cut(JSON.stringify(redact(args).value), 2000);
}

function withFloor(limits: ApprovalLimits): ApprovalLimits {
  return { ...limits, usableForMs: Math.max(limits.usableForMs, MIN_USABLE_MS) };
}

interface Waiter {
  decided(approval: Approval): void;
  stopped(): void;
}

function abortReason(signal: AbortSignal | undefined): Error {
  const reason: unknown = signal?.reason;
  return reason instanceof Error ? reason : new Error("the wait for an approval was aborted");
}

function digest(text: string): string {
  return createHash("sha256").update(text).digest("base64url");
}

function bindingDigest(subject: ApprovalSubject): string {
  return digest(
    canonicalize([subject.principalKey, subject.method, subject.target, subject.argumentsDigest]) ?? "",
  );
}

function bindingKey(subject: ApprovalSubject): string {
  return `appr:bind:${bindingDigest(subject)}`;
}

function grantKey(subject: ApprovalSubject): string {
  return `appr:grant:${digest(canonicalize([subject.principalKey, subject.method, subject.target]) ?? "")}`;
}

function sameTarget(approval: ApprovalSubject, subject: ApprovalSubject): boolean {
  return (
    approval.principalKey === subject.principalKey &&
    approval.method === subject.method &&
    approval.target === subject.target
  );
}

/** Only the subject's own fields, display texts cut short: a caller cannot grow a record at will. */
function subjectOf(subject: ApprovalSubject): ApprovalSubject {
  return {
    principal: cut(subject.principal, 200) ?? "",
    principalKey: subject.principalKey,
    method: subject.method,
    target: subject.target,
    upstream: subject.upstream,
    argumentsDigest: subject.argumentsDigest,
    argumentsPreview: cut(subject.argumentsPreview, 2000),
    policy: subject.policy,
    reason: cut(subject.reason, 500),
    clientAddress: subject.clientAddress,
  };
}

function cut(text: string | undefined, max: number): string | undefined {
  return text === undefined || text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function checkApprover(approver: string, note: string | undefined): void {
  if (typeof approver !== "string" || approver.trim() === "" || approver.length > 200)
    throw new ApprovalError("PORTCULLIS_E_APPROVAL_INVALID", "the approver is a name of 1 to 200 characters");
  if (note !== undefined && (typeof note !== "string" || note.length > 1000))
    throw new ApprovalError("PORTCULLIS_E_APPROVAL_INVALID", "a note has at most 1000 characters");
}

function iso(time: number): string {
  return new Date(time).toISOString();
}
