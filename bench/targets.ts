// The systems measured: the echo server directly (stdio, Streamable HTTP), Portcullis from its built
// output in each profile, and the peer proxies from npm, all in front of the same stdio echo server.
import { NATIVE_REGEXP_FLAG } from "../src/content/nativeRegExp.ts";
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort, runTag, spawnTracked, waitForHttp, type Spawned } from "./lib/processes.ts";
import { REVISIONS, type Endpoint, type Revision } from "./load/types.ts";

export const repoRoot = fileURLToPath(new URL("..", import.meta.url));
export const echoServerPath = join(repoRoot, "bench/echo-server.ts");
export const gatewayCli = join(repoRoot, "dist/cli/main.js");

/** How every target starts the echo server over stdio. */
export const echoStdio = {
  command: process.execPath,
  args: [echoServerPath, "--stdio", "--tag", runTag],
} as const;

export type TargetGroup = "direct" | "portcullis" | "peer";

export interface TargetContext {
  /** A scratch folder for configs. */
  readonly dir: string;
  /** Extra Node flags for the target's own process (e.g. --cpu-prof). */
  readonly nodeArgs?: readonly string[];
}

export interface RunningTarget {
  readonly endpoint: Endpoint;
  /** The target's own process; its upstreams are found below it. None when the client spawns it. */
  readonly pid?: number;
  readonly process?: Spawned;
  stop(): Promise<void>;
}

export interface TargetDefinition {
  readonly name: string;
  readonly group: TargetGroup;
  /** One line for the docs: what runs, and what it does per client session. */
  readonly description: string;
  /** The echo tool's name as this target lists it. */
  readonly tool: string;
  readonly revisions: readonly Revision[];
  start(context: TargetContext): Promise<RunningTarget>;
}

export type Profile = "dev" | "balanced" | "strict";
export type Isolation = "session" | "shared";

const directStdio: TargetDefinition = {
  name: "direct-stdio",
  group: "direct",
  description: "the client spawns the echo server and speaks to it over a pipe (no network, no proxy)",
  tool: "echo",
  revisions: REVISIONS,
  async start() {
    return { endpoint: { kind: "stdio", ...echoStdio }, stop: async () => undefined };
  },
};

const directHttp: TargetDefinition = {
  name: "direct-http",
  group: "direct",
  description:
    "the echo server on the SDK's Streamable HTTP transports (one McpServer per 2025 session, `createMcpHandler` per 2026 request)",
  tool: "echo",
  revisions: REVISIONS,
  async start(context) {
    const child = spawnTracked("direct-http", process.execPath, [
      ...(context.nodeArgs ?? []),
      echoServerPath,
      "--http",
      "--tag",
      runTag,
    ]);
    const line = await child.waitForLine(/"echo server listening"/, 15_000);
    const url = (JSON.parse(line) as { url: string }).url;
    return { endpoint: { kind: "http", url }, pid: child.pid, process: child, stop: () => child.stop() };
  },
};

type ConfigTree = { [key: string]: unknown };

function isTree(value: unknown): value is ConfigTree {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function merge(base: ConfigTree, extra: ConfigTree): ConfigTree {
  const out: ConfigTree = { ...base };
  for (const [key, value] of Object.entries(extra)) {
    const current = out[key];
    out[key] = isTree(current) && isTree(value) ? merge(current, value) : value;
  }
  return out;
}

/** The config of a Portcullis target, as JSON (which is YAML); `extra` is merged in (layer switches). */
export function portcullisConfig(profile: Profile, isolation: Isolation, extra: ConfigTree = {}): string {
  const base: ConfigTree = {
    version: 1,
    profile,
    server: { host: "127.0.0.1", shutdownGraceMs: 1000 },
    logging: { level: "info" },
    // What the quickstart ships: the anonymous local user may use everything, from this machine only.
    authorization: {
      policies: [
        {
          id: "local-user-everything",
          effect: "permit",
          principals: { kinds: ["anonymous"] },
          when: 'inCidr(request.address, ["127.0.0.0/8", "::1/128"])',
        },
      ],
    },
    // Every bench client is the same anonymous principal on 127.0.0.1: the memory probes open 1,000
    // sessions from it (the default, 64 per principal, would refuse the 65th), and at concurrency 32
    // its 2026-07-28 clients together hold more than the default 32 streams at once.
    network: { maxSessionsPerPrincipal: 100_000, maxStreamsPerSession: 1_000 },
    // The rate limiter runs, so that its cost is measured, with buckets far above what the load
    // sends (the defaults, 100/s per principal, would measure refusals instead of the gateway).
    rateLimits: {
      perPrincipal: { rate: 1_000_000, burst: 1_000_000 },
      perPrincipalTool: { rate: 1_000_000, burst: 1_000_000 },
      perAddress: { rate: 1_000_000, burst: 1_000_000 },
    },
    // The one bench principal changes its call rate by design (concurrency 1 to 32): a behaviour
    // anomaly would lower its trust until every call waited for a human approval, and the bench would
    // measure that instead of the gateway. The detector still runs; its response is an alert only.
    responses: { anomaly: [{ action: "alert", severity: "low" }] },
    upstreams: {
      echo: { transport: "stdio", command: echoStdio.command, args: [...echoStdio.args], isolation },
    },
  };
  return `${JSON.stringify(merge(base, extra), null, 2)}\n`;
}

/** Starts `node dist/cli/main.js serve` in a folder of its own (stores beside the config) and waits for /readyz. */
export async function startPortcullis(
  name: string,
  config: string,
  context: TargetContext,
): Promise<RunningTarget> {
  const home = join(context.dir, name);
  mkdirSync(home, { recursive: true });
  const configPath = join(home, "portcullis.yaml");
  writeFileSync(configPath, config);
  const child = spawnTracked(name, process.execPath, [
    // As the portcullis command starts it (its first line).
    NATIVE_REGEXP_FLAG,
    ...(context.nodeArgs ?? []),
    gatewayCli,
    "serve",
    "--config",
    configPath,
    "--port",
    "0",
  ]);
  const line = await child.waitForLine(/"HTTP ingress listening"/, 15_000);
  const url = (JSON.parse(line) as { url: string }).url;
  const alive = () => child.child.exitCode === null;
  await waitForHttp(url.replace(/\/mcp$/, "/readyz"), (s) => s === 200, 20_000, alive);
  return { endpoint: { kind: "http", url }, pid: child.pid, process: child, stop: () => child.stop() };
}

function portcullis(profile: Profile, isolation: Isolation): TargetDefinition {
  const name = `portcullis-${profile}${isolation === "shared" ? "-shared" : ""}`;
  const layers = profile === "dev" ? "no layer" : "every layer it has";
  const perSession =
    isolation === "session"
      ? "one echo process per client session (opened on its first call)"
      : "every session multiplexed over one echo process";
  return {
    name,
    group: "portcullis",
    description: `profile \`${profile}\` (${layers}), \`isolation: ${isolation}\`: ${perSession}`,
    tool: "echo__echo",
    revisions: REVISIONS,
    start: (context) => startPortcullis(name, portcullisConfig(profile, isolation), context),
  };
}

const shellQuote = (word: string) => `'${word.replaceAll("'", `'\\''`)}'`;

const supergateway: TargetDefinition = {
  name: "supergateway",
  group: "peer",
  description:
    "`--stdio … --outputTransport streamableHttp --stateful`: one echo process per 2025 session; a fresh echo process per 2026 request",
  tool: "echo",
  revisions: REVISIONS,
  async start(context) {
    const port = await freePort();
    const child = spawnTracked("supergateway", process.execPath, [
      ...(context.nodeArgs ?? []),
      join(repoRoot, "node_modules/supergateway/dist/index.js"),
      "--stdio",
      [echoStdio.command, ...echoStdio.args].map(shellQuote).join(" "),
      "--outputTransport",
      "streamableHttp",
      "--stateful",
      "--port",
      String(port),
      "--logLevel",
      "none",
      "--healthEndpoint",
      "/healthz",
    ]);
    return startedPeer(child, port, "/healthz");
  },
};

/** A peer proxy on `port`, once its health path answers 200: serving MCP at /mcp. */
async function startedPeer(child: Spawned, port: number, healthPath: string) {
  const base = `http://127.0.0.1:${port}`;
  await waitForHttp(
    `${base}${healthPath}`,
    (s) => s === 200,
    15_000,
    () => child.child.exitCode === null,
  );
  return {
    endpoint: { kind: "http" as const, url: `${base}/mcp` },
    pid: child.pid,
    process: child,
    stop: () => child.stop(),
  };
}

const mcpProxy: TargetDefinition = {
  name: "mcp-proxy",
  group: "peer",
  description:
    "`--server stream`: every session multiplexed over one echo process (one McpServer per session)",
  tool: "echo",
  revisions: REVISIONS,
  async start(context) {
    const port = await freePort();
    const child = spawnTracked("mcp-proxy", process.execPath, [
      ...(context.nodeArgs ?? []),
      join(repoRoot, "node_modules/mcp-proxy/dist/bin/mcp-proxy.mjs"),
      "--port",
      String(port),
      "--host",
      "127.0.0.1",
      "--server",
      "stream",
      "--",
      echoStdio.command,
      ...echoStdio.args,
    ]);
    return startedPeer(child, port, "/ping");
  },
};

export const TARGETS: readonly TargetDefinition[] = [
  directStdio,
  directHttp,
  portcullis("dev", "session"),
  portcullis("balanced", "session"),
  portcullis("strict", "session"),
  portcullis("strict", "shared"),
  supergateway,
  mcpProxy,
];

export function targetNamed(name: string, extra: readonly TargetDefinition[] = []): TargetDefinition {
  const known = [...TARGETS, ...extra];
  const target = known.find((t) => t.name === name);
  if (!target) throw new Error(`no target ${name}; known: ${known.map((t) => t.name).join(", ")}`);
  return target;
}

/**
 * The switches of the layers the bench knows. A layer counts as present when the built gateway
 * accepts its switch (`portcullis validate`); unknown config keys are errors, so absent layers are
 * never switched. Add a line here when a layer lands.
 */
export const LAYER_SWITCHES: readonly { layer: string; on: ConfigTree; off: ConfigTree }[] = [
  { layer: "decision-log", on: { logging: { decisions: true } }, off: { logging: { decisions: false } } },
  { layer: "audit", on: { audit: { enabled: true } }, off: { audit: { enabled: false } } },
  { layer: "trust", on: { trust: { enabled: true } }, off: { trust: { enabled: false } } },
  {
    layer: "authz",
    on: { authorization: { enabled: true } },
    off: { authorization: { enabled: false } },
  },
  { layer: "ratelimit", on: { rateLimits: { enabled: true } }, off: { rateLimits: { enabled: false } } },
  { layer: "validation", on: { validation: { enabled: true } }, off: { validation: { enabled: false } } },
  { layer: "flow", on: { dataFlow: { enabled: true } }, off: { dataFlow: { enabled: false } } },
  {
    layer: "catalog",
    on: { catalogGuard: { enabled: true } },
    off: { catalogGuard: { enabled: false } },
  },
  {
    layer: "arguments",
    on: { argumentGuard: { enabled: true } },
    off: { argumentGuard: { enabled: false } },
  },
  { layer: "data", on: { dataGuard: { enabled: true } }, off: { dataGuard: { enabled: false } } },
];

/** The layers of LAYER_SWITCHES that the built gateway has. */
export function detectLayers(dir: string): string[] {
  const present: string[] = [];
  for (const { layer, off } of LAYER_SWITCHES) {
    const path = join(dir, `validate-${layer}.yaml`);
    writeFileSync(path, portcullisConfig("strict", "session", off));
    try {
      execFileSync(process.execPath, [gatewayCli, "validate", "--config", path], { stdio: "ignore" });
      present.push(layer);
    } catch {
      // the switch is an unknown key: this build has no such layer
    }
  }
  return present;
}

export interface LayerProbe {
  readonly layer: string;
  /** The target with only this layer on, and the one with no layer. */
  readonly on: string;
  readonly off: string;
}

/**
 * The cost of each layer on its own: a gateway with only that layer on against one with none (dev).
 * With one layer present, strict is exactly "that layer only", so no extra target is needed.
 */
export function layerProbes(present: readonly string[]): {
  probes: LayerProbe[];
  targets: TargetDefinition[];
} {
  if (present.length === 1) {
    return { probes: [{ layer: present[0]!, on: "portcullis-strict", off: "portcullis-dev" }], targets: [] };
  }
  const probes: LayerProbe[] = [];
  const targets: TargetDefinition[] = [];
  for (const layer of present) {
    const name = `portcullis-only-${layer}`;
    const extra = LAYER_SWITCHES.filter((s) => present.includes(s.layer)).reduce<ConfigTree>(
      (config, s) => merge(config, s.layer === layer ? s.on : s.off),
      {},
    );
    probes.push({ layer, on: name, off: "portcullis-dev" });
    targets.push({
      name,
      group: "portcullis",
      description: `profile \`strict\` with only the ${layer} layer on, \`isolation: session\``,
      tool: "echo__echo",
      revisions: REVISIONS,
      start: (context) => startPortcullis(name, portcullisConfig("strict", "session", extra), context),
    });
  }
  return { probes, targets };
}
