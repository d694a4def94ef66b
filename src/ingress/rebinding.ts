// DNS-rebinding protection for the HTTP ingress: the Host header must name this gateway and a
// browser's Origin must be allowed, so a web page cannot reach a gateway on the user's machine.
import type { IncomingMessage } from "node:http";
import {
  localhostAllowedHostnames,
  localhostAllowedOrigins,
  validateHostHeader,
  validateOriginHeader,
} from "@modelcontextprotocol/server";
import type { GatewayConfig } from "../config/schema.ts";
import { isLoopbackHost } from "../config/secureUrl.ts";
import { GatewayError } from "../errors.ts";

function allowedHosts(server: GatewayConfig["server"]): string[] {
  if (server.allowedHosts) return server.allowedHosts;
  return isLoopbackHost(server.host) ? localhostAllowedHostnames() : [server.host];
}

/** Returns the error to answer with, or undefined when the request may proceed. */
export function checkRebinding(
  req: IncomingMessage,
  server: GatewayConfig["server"],
): GatewayError | undefined {
  const host = validateHostHeader(req.headers.host, allowedHosts(server));
  if (!host.ok) return new GatewayError("PORTCULLIS_E_HOST_NOT_ALLOWED", host.message);
  const originHeader = req.headers.origin;
  if (originHeader === undefined) return undefined;
  const origin = validateOriginHeader(originHeader, server.allowedOrigins ?? localhostAllowedOrigins());
  if (!origin.ok) return new GatewayError("PORTCULLIS_E_ORIGIN_NOT_ALLOWED", origin.message);
  return undefined;
}
