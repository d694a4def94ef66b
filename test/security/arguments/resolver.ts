// A DNS resolver for the corpus, without the internet: attacker-style names (nip.io, rebinding,
// localtest.me) resolve to internal addresses, `.invalid` fails, and every other name resolves to a
// stable public address derived from it.
import type { ResolveHost } from "../../../src/layers/arguments/resolver.ts";

const TABLE: Record<string, readonly string[]> = {
  "localtest.me": ["127.0.0.1"],
  "rebind.attacker.example": ["10.0.0.5"],
  "v6.attacker.example": ["::1"],
  "mixed.attacker.example": ["93.184.215.14", "10.0.0.1"],
  "internal.corp.example": ["10.1.2.3"],
};

export const corpusResolver: ResolveHost = async (host) => {
  const listed = TABLE[host];
  if (listed) return listed;
  const nip = /^(.*)\.nip\.io$/.exec(host);
  if (nip) return [nip[1] as string];
  if (host.endsWith(".invalid"))
    throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: "ENOTFOUND" });
  let hash = 0;
  for (const ch of host) hash = (Math.imul(hash, 31) + ch.charCodeAt(0)) >>> 0;
  // 104.16.0.0/13: public unicast space.
  return [`104.${16 + (hash % 8)}.${(hash >>> 8) & 255}.${(hash >>> 16) & 255}`];
};
