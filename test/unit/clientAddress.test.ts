// The client address behind trusted proxies: X-Forwarded-For is believed only from a trusted peer,
// and only up to the first hop that is not a trusted proxy (anything left of it is the client's say).
import assert from "node:assert/strict";
import type { IncomingMessage } from "node:http";
import { describe, it } from "node:test";
import { ClientAddressResolver } from "../../src/layers/network/clientAddress.ts";

function request(peer: string, forwardedFor?: string): IncomingMessage {
  return {
    socket: { remoteAddress: peer },
    headersDistinct: forwardedFor === undefined ? {} : { "x-forwarded-for": [forwardedFor] },
  } as unknown as IncomingMessage;
}

describe("client address resolution", () => {
  const resolver = new ClientAddressResolver(["10.0.0.0/8", "::ffff:192.0.2.1", "fd00::/8"]);

  it("takes the peer when no proxy is trusted, whatever the header says", () => {
    assert.equal(
      new ClientAddressResolver([]).resolve(request("198.51.100.9", "203.0.113.1")),
      "198.51.100.9",
    );
  });

  it("takes the right-most untrusted hop behind trusted proxies", () => {
    assert.equal(
      resolver.resolve(request("10.1.2.3", "203.0.113.1, 198.51.100.7, 10.9.9.9")),
      "198.51.100.7",
    );
    assert.equal(resolver.resolve(request("::ffff:10.1.2.3", "203.0.113.5")), "203.0.113.5");
    assert.equal(resolver.resolve(request("fd00::1", "2001:db8::7")), "2001:db8::7");
  });

  it("does not believe a header from an untrusted peer (a client forging its address)", () => {
    assert.equal(resolver.resolve(request("198.51.100.9", "10.0.0.1")), "198.51.100.9");
  });

  it("refuses a chain whose proxy-written hop cannot be read, instead of taking the proxy as the client", () => {
    assert.throws(() => resolver.resolve(request("10.1.2.3", "203.0.113.1, not-an-ip")), {
      code: "PORTCULLIS_E_FORWARDING_HEADER",
    });
    // Garbage left of the client's own address is the client's say, and never read.
    assert.equal(resolver.resolve(request("10.1.2.3", "not-an-ip, 203.0.113.1")), "203.0.113.1");
  });

  it("knows its trusted proxies in either IPv4 form", () => {
    assert.equal(resolver.isTrustedProxy("192.0.2.1"), true);
    assert.equal(resolver.isTrustedProxy("::ffff:10.0.0.5"), true);
    assert.equal(resolver.isTrustedProxy("198.51.100.1"), false);
  });
});
