// A call expected to be refused: its JSON-RPC error, as the official SDK client throws it.
import assert from "node:assert/strict";

export interface RpcFailure {
  code: number;
  message: string;
  data: Record<string, unknown>;
}

/** The JSON-RPC error the call was refused with (`data` is `{}` when the error has none); fails the test when it was answered. */
export async function failure(call: Promise<unknown>): Promise<RpcFailure> {
  let result: unknown;
  try {
    result = await call;
  } catch (err) {
    const { code, message, data } = err as { code: number; message: string; data?: Record<string, unknown> };
    return { code, message, data: data ?? {} };
  }
  assert.fail(`expected a refusal, got ${JSON.stringify(result).slice(0, 300)}`);
}
