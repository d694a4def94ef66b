// Resource subscription claims: a 2025 subscribe is a set operation; listen streams each hold a
// claim; the upstream hears only the first claim and the end of the last.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ResourceSubscriptions } from "../../src/session/subscriptions.ts";

describe("resource subscription claims", () => {
  it("treats explicit subscribe and unsubscribe as a set", () => {
    const subs = new ResourceSubscriptions();
    assert.equal(subs.add("file:///a", "explicit"), true);
    assert.equal(subs.add("file:///a", "explicit"), false, "subscribing twice changes nothing upstream");
    assert.equal(subs.remove("file:///a", "explicit"), true, "one unsubscribe ends it");
    assert.equal(subs.has("file:///a"), false);
  });

  it("keeps a URI while another listen stream still holds it", () => {
    const subs = new ResourceSubscriptions();
    assert.equal(subs.add("file:///a", "stream"), true);
    assert.equal(subs.add("file:///a", "stream"), false);
    assert.equal(subs.remove("file:///a", "stream"), false, "the other stream still listens");
    assert.equal(subs.has("file:///a"), true);
    assert.equal(subs.remove("file:///a", "stream"), true);
  });

  it("keeps an explicit subscription when a stream on the same URI closes", () => {
    const subs = new ResourceSubscriptions();
    subs.add("file:///a", "explicit");
    subs.add("file:///a", "stream");
    assert.equal(subs.remove("file:///a", "stream"), false);
    assert.deepEqual(subs.uris(), ["file:///a"]);
  });

  it("ignores removing what was never claimed", () => {
    assert.equal(new ResourceSubscriptions().remove("file:///x", "stream"), false);
  });
});
