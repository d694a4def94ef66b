// The throughput and latency matrix: every target started once, one client per target, revision and
// generator (warmed up, then kept), and rounds interleaved across targets (A B C A B C …, rotated).
import { echoPayload } from "./lib/corpus.ts";
import { measureWindow, type WindowResult } from "./load/drive.ts";
import { openRawHttp } from "./load/rawHttp.ts";
import { openRawStdio } from "./load/rawStdio.ts";
import { openSdk } from "./load/sdk.ts";
import type { CallSpec, Generator, LoadClient, Revision } from "./load/types.ts";
import { fmt } from "./report.ts";
import type { Cell } from "./report.ts";
import type { Plan } from "./plan.ts";
import type { RunningTarget, TargetContext, TargetDefinition } from "./targets.ts";

/** A target and the generators it is measured with (per-layer targets: the raw one only). */
export interface Entry {
  readonly target: TargetDefinition;
  readonly generators: readonly Generator[];
}

const key = (target: string, revision: Revision, generator: Generator, concurrency?: number) =>
  `${target}|${revision}|${generator}${concurrency === undefined ? "" : `|${concurrency}`}`;

function openClient(generator: Generator, spec: CallSpec): Promise<LoadClient> {
  if (generator === "sdk") return openSdk(spec);
  return spec.endpoint.kind === "http" ? openRawHttp(spec) : openRawStdio(spec);
}

export async function runMatrix(
  plan: Plan,
  entries: readonly Entry[],
  context: TargetContext,
  log: (text: string) => void,
): Promise<Cell[]> {
  const cells: Cell[] = [];
  const cellOf = new Map<string, Cell>();
  for (const { target, generators } of entries)
    for (const revision of plan.revisions)
      for (const generator of generators)
        for (const concurrency of plan.concurrencies) {
          const cell: Cell = {
            target: target.name,
            revision,
            generator,
            concurrency,
            rounds: [],
            median: {},
            errors: 0,
          };
          cells.push(cell);
          cellOf.set(key(target.name, revision, generator, concurrency), cell);
        }
  const skip = (target: string, revision: Revision, generator: Generator | undefined, why: string) => {
    for (const cell of cells)
      if (
        cell.target === target &&
        cell.revision === revision &&
        (!generator || cell.generator === generator)
      )
        cell.skipped ??= why;
  };

  const running = new Map<string, RunningTarget>();
  const clients = new Map<string, LoadClient>();
  const payload = echoPayload(plan.payloadBytes);
  try {
    // Every target stays up for all rounds, so that rounds can interleave.
    for (const { target } of entries) {
      try {
        running.set(target.name, await target.start(context));
        log(`started ${target.name}`);
      } catch (err) {
        log(`could not start ${target.name}: ${String(err)}`);
        for (const revision of plan.revisions) skip(target.name, revision, undefined, "did not start");
      }
    }
    for (const { target, generators } of entries) {
      const up = running.get(target.name);
      if (!up) continue;
      for (const revision of plan.revisions) {
        if (!target.revisions.includes(revision) || plan.skip.includes(`${target.name}@${revision}`)) {
          skip(target.name, revision, undefined, "not measured");
          continue;
        }
        for (const generator of generators) {
          const spec: CallSpec = {
            endpoint: up.endpoint,
            revision,
            tool: target.tool,
            payload,
            maxConcurrency: Math.max(...plan.concurrencies),
          };
          try {
            const client = await openClient(generator, spec);
            clients.set(key(target.name, revision, generator), client);
            // Discarded: JIT, per-session upstream processes, connection pools.
            await measureWindow(client, {
              concurrency: Math.min(8, Math.max(...plan.concurrencies)),
              warmupMs: plan.warmupMs * 3,
              measureMs: 1,
              maxMeasureMs: 1,
              minCalls: 0,
              cpuRoots: [],
            });
          } catch (err) {
            log(`${target.name} ${revision} ${generator}: ${String(err)}`);
            skip(target.name, revision, generator, "client failed");
          }
        }
      }
    }

    const order = entries.map((e) => e.target);
    for (let round = 1; round <= plan.rounds; round++) {
      // A fixed order would favour whoever follows the slowest target: rotate it every round.
      const rotated = order.map((_, i) => order[(i + round - 1) % order.length]!);
      for (const generator of plan.generators)
        for (const revision of plan.revisions)
          for (const concurrency of plan.concurrencies)
            for (const target of rotated) {
              const client = clients.get(key(target.name, revision, generator));
              const cell = cellOf.get(key(target.name, revision, generator, concurrency));
              if (!client || !cell || cell.skipped) continue;
              const pid = running.get(target.name)?.pid ?? client.serverPid;
              const result: WindowResult = await measureWindow(client, {
                concurrency,
                warmupMs: plan.warmupMs,
                measureMs: plan.measureMs,
                maxMeasureMs: plan.maxMeasureMs,
                minCalls: plan.minCalls,
                cpuRoots: pid === undefined ? [] : [pid],
              });
              cell.rounds.push({ ...result, round });
              log(
                `[${round}/${plan.rounds}] ${generator} ${revision} c=${concurrency} ${target.name}: ` +
                  `${fmt(result.throughput, 0)}/s p50 ${fmt(result.p50)} p99 ${fmt(result.p99)} ms` +
                  (result.errors > 0 ? ` (${result.errors} errors: ${result.firstError ?? ""})` : ""),
              );
            }
    }
  } finally {
    await Promise.allSettled([...clients.values()].map((c) => c.close()));
    await Promise.allSettled([...running.values()].map((r) => r.stop()));
  }
  return cells;
}
