#!/usr/bin/env -S node --no-regexp-tier-up
// The `portcullis` command: init, serve, stdio, validate, audit, keys, approvals, block, tools, policy.
import { existsSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { loadConfigFile } from "../config/load.ts";
import { ConfigError, formatConfigIssue } from "../errors.ts";
import { runGateway } from "../runtime.ts";
import { runApprovalsCommand } from "./approvals.ts";
import { runBlockCommand } from "./block.ts";
import { runToolsCommand } from "./tools.ts";
import { runAuditCommand } from "./audit.ts";
import { runPolicyCommand } from "./policy.ts";
import { runKeysCommand } from "./keys.ts";
import { starterConfig } from "./starterConfig.ts";

const usage = `Usage: portcullis <command> [options]

Commands:
  init [--out FILE] [--force]                 write a commented starter config (default portcullis.yaml)
  serve --config FILE [--host H] [--port P]   run the gateway with the Streamable HTTP ingress
  stdio --config FILE                         run the gateway as a stdio MCP server (desktop clients)
  validate --config FILE                      check a config file; exit 1 listing every error
  audit verify --config FILE [--public-key PEM]   check the audit trail; exit 1 naming the first bad record
  audit query --config FILE [--principal P] [--tool T] [--verdict V] [--since T] [--until T] [--json] [--decrypt]
  audit export --config FILE [--format jsonl|ocsf]
  audit public-key --config FILE              print the key that verifies the checkpoints
                                              (every audit command also takes --db PATH|postgres://URL instead of --config)
  keys create --config FILE --name N [--roles R1,R2] [--expires 30d]   print a new API key (shown once)
  keys revoke ID|NAME --config FILE           revoke an API key (refused from the next request on)
  keys list --config FILE [--json]            the keys the store holds (never their secrets)
  policy validate --config FILE | --policies PATH [--strict]   every policy error and warning as file:line; exit 1 on errors
  policy test CASES.yaml --config FILE | --policies PATH       run test cases against the policies; exit 1 on a failure
  policy explain --config FILE --principal ID --action M [--tool T|--prompt P|--resource URI] [--roles R1,R2] [--json] …
  approvals list --config FILE [--status S] [--json]   calls waiting for a human approval
  approvals show|approve|deny|revoke ID --config FILE [--grant 1h] [--note TEXT] [--as NAME]
                                              (approvals reach the running gateway over its control socket; --socket PATH instead of --config)
  block add ADDRESS[/PREFIX] --config FILE --reason TEXT [--for 1h] [--as NAME]   block an address or range on every node
  tools list --config FILE [--changed] [--json]   tool and prompt definitions pinned, and changes waiting for review
  tools diff UPSTREAM/NAME --config FILE [--kind tools|prompts]   the pinned definition against the changed one
  tools approve UPSTREAM/NAME --config FILE [--hash H] [--as NAME] [--note T]   pin the changed definition
  block list --config FILE [--json]           the blocks in force (detector responses and operators')
  block remove ADDRESS[/PREFIX] --config FILE lift a block
  help                                        show this text
`;

const MAJOR_NODE = Number(process.versions.node.split(".")[0]);

async function main(argv: string[]): Promise<number> {
  if (MAJOR_NODE < 22) {
    process.stderr.write(`portcullis needs Node.js 22 or newer (this is ${process.versions.node})\n`);
    return 1;
  }
  const [command, ...rest] = argv;
  const { values, positionals } = parseArgs({
    args: rest,
    options: {
      config: { type: "string", short: "c" },
      host: { type: "string" },
      port: { type: "string" },
      out: { type: "string" },
      force: { type: "boolean" },
      db: { type: "string" },
      "public-key": { type: "string" },
      principal: { type: "string" },
      tool: { type: "string" },
      verdict: { type: "string" },
      since: { type: "string" },
      until: { type: "string" },
      limit: { type: "string" },
      json: { type: "boolean" },
      decrypt: { type: "boolean" },
      format: { type: "string" },
      name: { type: "string" },
      roles: { type: "string" },
      expires: { type: "string" },
      status: { type: "string" },
      grant: { type: "string" },
      note: { type: "string" },
      as: { type: "string" },
      socket: { type: "string" },
      policies: { type: "string", multiple: true },
      strict: { type: "boolean" },
      action: { type: "string" },
      kind: { type: "string" },
      groups: { type: "string" },
      scopes: { type: "string" },
      tenant: { type: "string" },
      "auth-method": { type: "string" },
      acr: { type: "string" },
      amr: { type: "string" },
      "auth-age": { type: "string" },
      prompt: { type: "string" },
      resource: { type: "string" },
      upstream: { type: "string" },
      labels: { type: "string" },
      address: { type: "string" },
      time: { type: "string" },
      trust: { type: "string" },
      args: { type: "string" },
      for: { type: "string" },
      changed: { type: "boolean" },
      hash: { type: "string" },
      reason: { type: "string" },
    },
    allowPositionals: true,
    strict: true,
  });
  switch (command) {
    case "init": {
      const out = values.out ?? "portcullis.yaml";
      if (existsSync(out) && !values.force) {
        process.stderr.write(`${out} exists; pass --force to overwrite\n`);
        return 1;
      }
      writeFileSync(out, starterConfig, { mode: 0o600 });
      process.stdout.write(`wrote ${out}\n`);
      return 0;
    }
    case "validate": {
      loadConfigFile(requireConfig(values.config));
      process.stdout.write(`${values.config}: valid\n`);
      return 0;
    }
    case "serve":
      await runGateway({
        configPath: requireConfig(values.config),
        mode: "http",
        host: values.host,
        port: values.port === undefined ? undefined : parsePort(values.port),
      });
      return -1;
    case "stdio":
      await runGateway({ configPath: requireConfig(values.config), mode: "stdio" });
      return -1;
    case "audit":
      try {
        return await runAuditCommand(positionals[0], { ...values, publicKey: values["public-key"] });
      } catch (err) {
        if (err instanceof ConfigError) throw err;
        throw new UsageError(err instanceof Error ? err.message : String(err));
      }
    case "keys":
      try {
        return runKeysCommand(positionals[0], positionals[1], values);
      } catch (err) {
        if (err instanceof ConfigError) throw err;
        throw new UsageError(err instanceof Error ? err.message : String(err));
      }
    case "policy":
      try {
        return await runPolicyCommand(positionals[0], positionals.slice(1), values);
      } catch (err) {
        if (err instanceof ConfigError) throw err;
        throw new UsageError(err instanceof Error ? err.message : String(err));
      }
    case "approvals":
      try {
        return await runApprovalsCommand(positionals[0], positionals.slice(1), values);
      } catch (err) {
        if (err instanceof ConfigError) throw err;
        throw new UsageError(err instanceof Error ? err.message : String(err));
      }
    case "tools":
      try {
        return await runToolsCommand(positionals[0], positionals.slice(1), values);
      } catch (err) {
        if (err instanceof ConfigError) throw err;
        throw new UsageError(err instanceof Error ? err.message : String(err));
      }
    case "block":
      try {
        return await runBlockCommand(positionals[0], positionals.slice(1), values);
      } catch (err) {
        if (err instanceof ConfigError) throw err;
        throw new UsageError(err instanceof Error ? err.message : String(err));
      }
    case undefined:
    case "help":
    case "--help":
      process.stdout.write(usage);
      return command === undefined ? 1 : 0;
    default:
      process.stderr.write(`unknown command "${command}"\n\n${usage}`);
      return 1;
  }
}

function requireConfig(path: string | undefined): string {
  if (!path) throw new UsageError("--config FILE is required");
  return path;
}

function parsePort(text: string): number {
  const port = Number(text);
  if (!Number.isInteger(port) || port < 0 || port > 65_535)
    throw new UsageError(`--port ${text} is not a TCP port`);
  return port;
}

class UsageError extends Error {}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof ConfigError) {
      for (const issue of err.issues) process.stderr.write(`${formatConfigIssue(issue)}\n`);
      process.stderr.write(`${err.issues.length} error(s)\n`);
    } else if (err instanceof UsageError || (err instanceof TypeError && "code" in err)) {
      process.stderr.write(`${err.message}\n\n${usage}`);
    } else {
      process.stderr.write(
        `portcullis: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
      );
    }
    process.exitCode = 1;
  },
);
