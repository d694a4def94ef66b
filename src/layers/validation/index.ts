// The validation layer: every client message checked against the MCP schema of its revision, every
// tool call's arguments against the tool's inputSchema, and its structuredContent against the
// tool's outputSchema, with upstream schemas compiled once and bounded in what they may cost.
import type { ValidationConfig } from "../../config/validationSchema.ts";
import type { Severity, SecurityEventBus } from "../../events/bus.ts";
import type {
  Layer,
  NotificationView,
  RequestContext,
  RequestView,
  ResultView,
  RouteTarget,
  Verdict,
} from "../../pipeline/types.ts";
import { checkNotification, checkRequest, type MessageProblem } from "./messages.ts";
import { ToolSchemaCompiler, type CheckOutcome, type SchemaIssue, type SchemaRole } from "./toolSchemas.ts";

export interface ValidationLayerOptions {
  readonly config: ValidationConfig;
  readonly events?: SecurityEventBus;
  /**
   * Which checks this instance runs: `messages` (MCP schemas of client messages: nothing about any
   * target, so it can run first), `tools` (arguments and structured results against a tool's own
   * schemas: only after authorization, whose refusal of a hidden tool must look like an unknown one),
   * or `all` (default).
   */
  readonly stage?: "messages" | "tools" | "all";
  /**
   * The tool's definition to check a call against (`currentDefinition` in layers/index.ts: as the
   * upstream serves it now). Absent: the router's copy, from the moment the call came in.
   */
  readonly definitionOf?: (target: RouteTarget) => Readonly<Record<string, unknown>> | undefined;
}

type Failure = Extract<Verdict<never>, { kind: "deny" }>;

export function validationLayer(options: ValidationLayerOptions): Layer {
  const { config, events } = options;
  const stage = options.stage ?? "all";
  const checkMessages = config.messages && stage !== "tools";
  const checkTools = stage !== "messages";
  const definitionOf = options.definitionOf ?? ((target: RouteTarget) => target.definition);
  const { budget } = config;
  const compiler = new ToolSchemaCompiler(
    {
      maxSchemaBytes: config.maxSchemaBytes,
      maxSchemaDepth: config.maxSchemaDepth,
      maxPatterns: config.maxPatterns,
      compileMs: budget.compileMs,
      steps: budget.steps,
      stepsPerValue: budget.stepsPerValue,
      patternCharacters: budget.patternCharacters,
    },
    { cacheSize: config.cacheSize, closeInput: config.undeclaredArguments === "deny" },
  );

  /** Raises `validation_failed`; a flag passes, anything else is refused. */
  const fail = (
    ctx: RequestContext,
    found: { rule: string; reason: string; issues?: readonly SchemaIssue[] },
    about: { method: string; target?: RouteTarget; action: "deny" | "flag"; severity: Severity },
  ): Failure | undefined => {
    events?.emit({
      type: "validation_failed",
      severity: about.severity,
      ctx,
      details: {
        layer: "validation",
        rule: found.rule,
        reason: found.reason,
        action: about.action,
        method: about.method,
        ...(about.target?.kind === "tool"
          ? { tool: about.target.publicName, upstream: about.target.upstream }
          : {}),
        ...(found.issues ? { errors: found.issues } : {}),
      },
    });
    if (about.action === "flag") return undefined;
    return {
      kind: "deny",
      rule: found.rule,
      reason: found.reason,
      code: "PORTCULLIS_E_VALIDATION",
      data: { errors: found.issues ?? [] },
    };
  };

  /** Checks `data` against one of the tool's schemas; the verdict when it does not pass. */
  const checkAgainst = (
    role: SchemaRole,
    schema: unknown,
    data: unknown,
    onMismatch: "deny" | "flag",
    ctx: RequestContext,
    method: string,
    target: RouteTarget,
  ): Failure | undefined => {
    const compiled = compiler.compiled(schema, role);
    const name = role === "input" ? "inputSchema" : "outputSchema";
    if (!compiled.usable) {
      const action = config.onInvalidSchema === "deny" ? "deny" : "flag";
      const found = {
        rule: `${role}-schema-invalid`,
        reason: `the tool's ${name} cannot be used: ${compiled.problem}`,
      };
      return fail(ctx, found, { method, target, action, severity: "medium" });
    }
    const outcome: CheckOutcome = compiled.check(data);
    if (outcome.valid) return undefined;
    if ("failure" in outcome) throw new Error(outcome.failure);
    if ("budget" in outcome)
      return fail(
        ctx,
        { rule: "validation-budget", reason: `${outcome.budget} (the tool's ${name})` },
        { method, target, action: onMismatch, severity: "medium" },
      );
    const found = {
      rule: `${role}-schema`,
      reason:
        role === "input"
          ? "the arguments do not match the tool's inputSchema"
          : "the result's structuredContent does not match the tool's outputSchema",
      issues: outcome.issues,
    };
    return fail(ctx, found, {
      method,
      target,
      action: onMismatch,
      severity: role === "input" ? "low" : "medium",
    });
  };

  const messageFailure = (
    ctx: RequestContext,
    method: string,
    problem: MessageProblem,
    target?: RouteTarget,
  ) => fail(ctx, problem, { method, target, action: "deny", severity: "low" });

  return {
    // Two stages in one chain are two layers with two names (metrics, spans, decision lines).
    name: stage === "tools" ? "tool-validation" : "validation",

    onRequest(request: RequestView, ctx: RequestContext) {
      return guarded(ctx, request.method, request.target, () => checkRequestView(request, ctx));
    },

    onResult(view: ResultView, ctx: RequestContext) {
      return guarded(ctx, view.method, view.target, () => checkResultView(view, ctx));
    },

    onNotification(notification: NotificationView, ctx: RequestContext) {
      if (!checkMessages || notification.direction !== "to-server") return undefined;
      return guarded(ctx, notification.method, undefined, () => {
        const problem = checkNotification(notification.method, notification.params, ctx);
        return problem ? messageFailure(ctx, notification.method, problem) : undefined;
      });
    },
  };

  /**
   * Fail-secure with a typed refusal: a validator that throws (a bug, or a schema library's own
   * failure) denies with rule `validator-error`, whatever the mode, instead of the chain's `internal`.
   */
  function guarded(
    ctx: RequestContext,
    method: string,
    target: RouteTarget | undefined,
    check: () => Failure | undefined,
  ): Failure | undefined {
    try {
      return check();
    } catch (err) {
      const reason = `the validator failed: ${err instanceof Error ? err.message : String(err)}`;
      return fail(
        ctx,
        { rule: "validator-error", reason },
        { method, target, action: "deny", severity: "high" },
      );
    }
  }

  function checkRequestView(request: RequestView, ctx: RequestContext): Failure | undefined {
    const { method, params, target } = request;
    if (checkMessages) {
      const problem = checkRequest(method, params, ctx);
      if (problem) return messageFailure(ctx, method, problem, target);
    }
    if (!checkTools || method !== "tools/call" || !config.toolArguments || target?.kind !== "tool")
      return undefined;
    const definition = definitionOf(target);
    if (!definition)
      return fail(
        ctx,
        { rule: "input-schema-invalid", reason: "the tool's definition is not known to the gateway" },
        { method, target, action: config.onInvalidSchema === "deny" ? "deny" : "flag", severity: "medium" },
      );
    // MCP: a call without arguments is a call with none.
    const args = params?.arguments ?? {};
    return checkAgainst("input", definition.inputSchema, args, "deny", ctx, method, target);
  }

  function checkResultView(view: ResultView, ctx: RequestContext): Failure | undefined {
    const { method, target, result } = view;
    if (!checkTools || method !== "tools/call" || config.outputSchema === "off" || target?.kind !== "tool")
      return undefined;
    const outputSchema = definitionOf(target)?.outputSchema;
    if (outputSchema === undefined) return undefined;
    // A tool error need not be structured; an input-required round is not the tool's result yet.
    if (result.isError === true || isInterim(result)) return undefined;
    const action = config.outputSchema;
    if (result.structuredContent === undefined)
      return fail(
        ctx,
        {
          rule: "output-schema",
          reason: "the tool declares an outputSchema but its result has no structuredContent",
        },
        { method, target, action, severity: "medium" },
      );
    return checkAgainst("output", outputSchema, result.structuredContent, action, ctx, method, target);
  }
}

/** A 2026-07-28 input-required answer: the call goes on after the client's input. */
function isInterim(result: Record<string, unknown>): boolean {
  return (
    (typeof result.resultType === "string" && result.resultType !== "complete") ||
    result.inputRequests !== undefined
  );
}
