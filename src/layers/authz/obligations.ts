// Obligations a permit carries: a step-up (a fresh or stronger authentication, asked for with a
// 403 insufficient_scope challenge that names acr_values and max_age as RFC 9470 does) and a
// human approval (handled by the layer with the approval book).
import type { Principal } from "../../pipeline/types.ts";

export interface StepUpRequirement {
  readonly maxAuthAgeSeconds?: number;
  readonly acr?: readonly string[];
  readonly amr?: readonly string[];
}

/** Why the principal's authentication does not meet the requirement, or undefined when it does. */
export function unmetStepUp(principal: Principal, need: StepUpRequirement, now: number): string | undefined {
  if (need.maxAuthAgeSeconds !== undefined) {
    if (principal.authTime === undefined) return "the token does not say when the user authenticated";
    const age = Math.floor((now - principal.authTime) / 1000);
    if (age > need.maxAuthAgeSeconds)
      return `the user authenticated ${age} s ago; at most ${need.maxAuthAgeSeconds} s is accepted`;
  }
  if (need.acr && (principal.acr === undefined || !need.acr.includes(principal.acr)))
    return `authentication context ${principal.acr ?? "(none)"} is not one of ${need.acr.join(", ")}`;
  if (need.amr) {
    const missing = need.amr.filter((m) => !(principal.amr ?? []).includes(m));
    if (missing.length > 0) return `authentication methods ${missing.join(", ")} are missing`;
  }
  return undefined;
}

/** The strictest combination of several requirements (every permit's obligation applies). */
export function combineStepUps(needs: readonly StepUpRequirement[]): StepUpRequirement | undefined {
  if (needs.length === 0) return undefined;
  const ages = needs.flatMap((n) => (n.maxAuthAgeSeconds === undefined ? [] : [n.maxAuthAgeSeconds]));
  const acrSets = needs.flatMap((n) => (n.acr ? [n.acr] : []));
  // Every list of accepted classes must accept the token's: their intersection.
  const acr = acrSets.reduce<readonly string[] | undefined>(
    (kept, next) => (kept === undefined ? next : kept.filter((a) => next.includes(a))),
    undefined,
  );
  const amr = [...new Set(needs.flatMap((n) => n.amr ?? []))];
  return {
    ...(ages.length > 0 ? { maxAuthAgeSeconds: Math.min(...ages) } : {}),
    ...(acr ? { acr } : {}),
    ...(amr.length > 0 ? { amr } : {}),
  };
}

/** The WWW-Authenticate value of a step-up challenge. */
export function stepUpChallenge(need: StepUpRequirement, description: string): string {
  const parts = [`Bearer realm="portcullis"`, `error="insufficient_scope"`];
  if (need.acr) parts.push(`acr_values="${need.acr.join(" ")}"`);
  if (need.maxAuthAgeSeconds !== undefined) parts.push(`max_age=${need.maxAuthAgeSeconds}`);
  parts.push(`error_description="${description.replace(/["\\]/g, "")}"`);
  return parts.join(", ");
}
