// `portcullis keys …`: create an API key (printed once, only its hash is stored), revoke one (the
// running gateway refuses it from the next request on), and list what the store holds.
import { resolve } from "node:path";
import { loadConfigFile } from "../config/load.ts";
import { createApiKey, readKeyFile, revokeApiKey } from "../layers/identity/apiKeys.ts";

export interface KeysCommandOptions {
  readonly config?: string;
  readonly name?: string;
  readonly roles?: string;
  readonly expires?: string;
  readonly json?: boolean;
}

export function runKeysCommand(
  sub: string | undefined,
  target: string | undefined,
  options: KeysCommandOptions,
): number {
  const path = keyStorePath(options.config);
  switch (sub) {
    case "create": {
      if (!options.name) throw new Error("--name NAME is required");
      const roles = (options.roles ?? "")
        .split(",")
        .map((r) => r.trim())
        .filter(Boolean);
      const expiresAt = options.expires ? expiry(options.expires) : undefined;
      const { key, entry } = createApiKey(path, { name: options.name, roles, expiresAt });
      process.stdout.write(`${key}\n`);
      process.stderr.write(
        `created key ${entry.id} (${entry.name}; roles: ${roles.join(", ") || "none"}${entry.expires ? `; expires ${entry.expires}` : ""}). It is shown only this once.\n`,
      );
      return 0;
    }
    case "revoke": {
      if (!target) throw new Error("name the key to revoke: portcullis keys revoke ID|NAME --config FILE");
      if (!revokeApiKey(path, target)) {
        process.stderr.write(`no active key "${target}"\n`);
        return 1;
      }
      process.stdout.write(`revoked ${target}\n`);
      return 0;
    }
    case "list": {
      for (const k of readKeyFile(path).keys) {
        const state = k.revoked ? `revoked ${k.revoked}` : k.expires ? `expires ${k.expires}` : "active";
        if (options.json) process.stdout.write(`${JSON.stringify({ ...k, hash: undefined })}\n`);
        else
          process.stdout.write(`${k.id}  ${k.name.padEnd(20)}  ${k.roles.join(",").padEnd(20)}  ${state}\n`);
      }
      return 0;
    }
    default:
      throw new Error(`unknown keys command "${sub ?? ""}" (create, revoke, list)`);
  }
}

function keyStorePath(config: string | undefined): string {
  if (!config) throw new Error("--config FILE is required (the key store is named in identity.apiKeys.file)");
  const loaded = loadConfigFile(config);
  const apiKeys = loaded.config.identity.apiKeys;
  if (!apiKeys) throw new Error(`${config} does not enable API keys (identity.apiKeys)`);
  return resolve(loaded.dir, apiKeys.file);
}

/** `30d`, `12h`, `90m` from now, or an ISO date. */
function expiry(text: string): Date {
  const relative = /^(\d+)([dhm])$/.exec(text);
  if (relative?.[1] && relative[2]) {
    const unit = { d: 86_400_000, h: 3_600_000, m: 60_000 }[relative[2] as "d" | "h" | "m"];
    return new Date(Date.now() + Number(relative[1]) * unit);
  }
  const date = new Date(text);
  if (Number.isNaN(date.getTime()) || date.getTime() <= Date.now())
    throw new Error(`--expires ${text}: give a duration (30d, 12h, 90m) or a future date`);
  return date;
}
