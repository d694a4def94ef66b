// The config of toxic-flow control (`dataFlow`): the flow labels targets carry (what reading them
// taints a session with, and which are external sinks), and the rules that refuse a call to a sink
// from a session tainted with a dangerous combination. Policies see the taint as `session.labels`.
import { z } from "zod";

const flowLabel = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,63}$/, "a flow label: lower case letters, digits and '-', e.g. private-data");

const labelRule = z.strictObject({
  upstreams: z
    .array(z.string().min(1))
    .optional()
    .describe("Every tool, prompt and resource of these upstreams."),
  tools: z.array(z.string().min(1)).optional().describe("Public tool names (wildcards)."),
  prompts: z.array(z.string().min(1)).optional().describe("Public prompt names (wildcards)."),
  resources: z.array(z.string().min(1)).optional().describe("Resource URIs (wildcards, case-sensitive)."),
  labels: z.array(flowLabel).min(1).describe("e.g. [private-data], [untrusted-content], [external-sink]."),
});

const flowRule = z.strictObject({
  id: z
    .string()
    .regex(/^[A-Za-z0-9_.:-]{1,64}$/)
    .describe("Named in the error, the event and the audit record."),
  after: z
    .array(flowLabel)
    .min(1)
    .describe("The session must have read targets carrying all of these labels (its taint)."),
  to: flowLabel.describe("…and now calls a target carrying this label."),
  action: z
    .enum(["deny", "flag"])
    .default("deny")
    .describe(
      "deny: refuse the call (PORTCULLIS_E_TOXIC_FLOW); flag: let it through with a toxic_flow_blocked event (severity low). For a human approval instead, write a policy on session.labels with an approval obligation.",
    ),
});

export const dataFlowSection = z
  .strictObject({
    enabled: z.boolean().default(true).describe("Track what each session has read and refuse toxic flows."),
    labels: z
      .array(labelRule)
      .default([])
      .describe("Flow labels of targets; a target's labels are those of every rule that matches it."),
    openWorldLabels: z
      .array(flowLabel)
      .default(["untrusted-content", "external-sink"])
      .describe(
        "Labels a tool gets when its upstream declares openWorldHint: true (it reaches the outside world: what it returns is untrusted, what it is sent leaves). Annotations add labels, never remove them; [] to ignore the hint.",
      ),
    sourceLabels: z
      .array(flowLabel)
      .default(["private-data", "untrusted-content"])
      .describe("Labels that taint a session once it has read a target carrying them."),
    rules: z
      .array(flowRule)
      .default([
        {
          id: "private-and-untrusted-to-sink",
          after: ["private-data", "untrusted-content"],
          to: "external-sink",
          action: "deny",
        },
      ])
      .describe(
        "Toxic flows. The default refuses a call to an external sink from a session that has read both private data and untrusted content (the untrusted content may carry instructions to send the private data out).",
      ),
    taintTtlMs: z
      .number()
      .int()
      .min(60_000)
      .max(30 * 86_400_000)
      .default(12 * 3_600_000)
      .describe(
        "How long a session's taint is kept after the last read that added to it (default: a session's lifetime).",
      ),
  })
  .prefault({})
  .describe("Labels and taint (toxic-flow control); see docs/data-flow.md.");

export type DataFlowConfig = z.output<typeof dataFlowSection>;
