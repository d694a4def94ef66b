// The limits every gateway node shares, in Redis: the same GCRA buckets and quota counters as the
// memory limiter, checked and spent by one Lua script in one round trip (atomic: a refusal spends
// nothing anywhere), on Redis's clock so that nodes whose clocks drift still agree.
import { createHash } from "node:crypto";
import type { Redis } from "ioredis";
import type { Waits } from "./memoryLimiter.ts";
import type { LimitCheck } from "./plan.ts";

/** The shared store could not answer (not connected, timed out, or failed): the caller decides. */
export class StoreUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StoreUnavailableError";
  }
}

// KEYS[i] is one limit; ARGV[4i-3] its kind ('b' bucket, 'q' quota), ARGV[4i-2] and ARGV[4i-1]:
// for a bucket the ms between tokens and the burst, for a quota the period in ms and the limit;
// ARGV[4i] what the message spends of it (the messages of a batch that count against it).
// Returns, per key, 0 when it allows the message or the ms until it would; spends only if all allow.
const SCRIPT = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + tonumber(time[2]) / 1000
local waits, next, refused = {}, {}, false
for i, key in ipairs(KEYS) do
  local kind, a, b, cost = ARGV[4 * i - 3], tonumber(ARGV[4 * i - 2]), tonumber(ARGV[4 * i - 1]), tonumber(ARGV[4 * i])
  local stored = tonumber(redis.call('GET', key))
  local wait = 0
  if kind == 'b' then
    local tat = math.max(stored or now, now) + cost * a
    wait = tat - b * a - now
    next[i] = tat
  else
    local used = stored or 0
    if used + cost > b then wait = a - (now % a) end
    next[i] = a - (now % a)
  end
  if wait > 0 then
    waits[i] = math.ceil(wait)
    refused = true
  else
    waits[i] = 0
  end
end
if refused then return waits end
for i, key in ipairs(KEYS) do
  if ARGV[4 * i - 3] == 'b' then
    redis.call('SET', key, string.format('%.3f', next[i]), 'PX', math.ceil(next[i] - now))
  elseif redis.call('INCRBY', key, tonumber(ARGV[4 * i])) == tonumber(ARGV[4 * i]) then
    redis.call('PEXPIRE', key, math.ceil(next[i]))
  end
end
return waits
`;
const SCRIPT_SHA = createHash("sha1").update(SCRIPT).digest("hex");

export class RedisLimiter {
  private readonly redis: Redis;
  private readonly timeoutMs: number;
  private readonly keyPrefix: string;

  /** `keyPrefix`: the deployment's (the state store's); limits go under `<keyPrefix>rl:`. */
  constructor(redis: Redis, timeoutMs: number, keyPrefix: string) {
    this.redis = redis;
    this.timeoutMs = timeoutMs;
    this.keyPrefix = `${keyPrefix}rl:`;
  }

  async take(checks: readonly LimitCheck[]): Promise<Waits> {
    // Never queue behind a reconnect: a check that cannot be answered now is an outage now.
    if (this.redis.status !== "ready")
      throw new StoreUnavailableError(`Redis connection is ${this.redis.status}`);
    const keys = checks.map((check) => this.keyPrefix + redisKey(check));
    const args = checks.flatMap(({ limit, cost }) =>
      limit.kind === "bucket"
        ? ["b", String(1000 / limit.rate), String(limit.burst), String(cost)]
        : ["q", String(limit.periodMs), String(limit.limit), String(cost)],
    );
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new StoreUnavailableError(`Redis did not answer within ${this.timeoutMs} ms`)),
        this.timeoutMs,
      );
    });
    try {
      const reply = await Promise.race([this.run(keys, args), timeout]);
      return waitsOf(reply, checks.length);
    } catch (err) {
      if (err instanceof StoreUnavailableError) throw err;
      throw new StoreUnavailableError(`Redis failed: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      clearTimeout(timer);
    }
  }

  /** By digest; the script body only when this Redis does not hold it yet (first use, restart). */
  private async run(keys: readonly string[], args: readonly string[]): Promise<unknown> {
    try {
      return await this.redis.evalsha(SCRIPT_SHA, keys.length, ...keys, ...args);
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith("NOSCRIPT")) throw err;
      return this.redis.eval(SCRIPT, keys.length, ...keys, ...args);
    }
  }
}

/** What a limit is stored under: its scope in clear, its subject (principal, address, tool) hashed. */
function redisKey(check: LimitCheck): string {
  const digest = createHash("sha256").update(check.key).digest("base64url").slice(0, 22);
  return `${check.scope}:${digest}`;
}

function waitsOf(reply: unknown, expected: number): Waits {
  if (
    !Array.isArray(reply) ||
    reply.length !== expected ||
    !reply.every((wait) => typeof wait === "number" && wait >= 0)
  )
    throw new StoreUnavailableError("Redis answered the rate-limit script with something unexpected");
  return reply as number[];
}
