// The commented starter config that `portcullis init` writes: secure defaults, one example upstream.
export const starterConfig = `# Portcullis gateway configuration. Reference: docs/configuration.md; editor schema: docs/config.schema.json
version: 1

# strict (default) runs every security layer; balanced trades some checks for speed; dev turns them off.
profile: strict

server:
  # Loopback only. Listening on another address needs TLS and authentication (see docs/security.md).
  host: 127.0.0.1
  port: 8080
  path: /mcp
  maxBodyBytes: 4194304      # 4 MiB; larger bodies get HTTP 413
  maxJsonDepth: 64
  sessionIdleTimeoutMs: 1800000
  shutdownGraceMs: 10000

federation:
  separator: "__"            # tools appear as <upstream>__<tool>
  pageSize: 200

logging:
  level: info
  decisions: true            # one JSON line per message decision

# Default deny: every MCP method needs a policy that permits it (docs/authorization.md).
authorization:
  policies:
    # Without authentication on loopback every caller is the anonymous local user.
    - id: local-user-everything
      effect: permit
      principals: { kinds: [anonymous] }
      when: inCidr(request.address, ["127.0.0.0/8", "::1/128"])
    # portcullis stdio: the desktop client's user (identity.stdioPrincipal).
    - id: local-stdio-user-everything
      effect: permit
      principals: { authMethods: [stdio-local] }
    # - id: no-destructive-tools-at-night
    #   effect: forbid
    #   resources: { tools: ["*delete*"] }
    #   when: '!withinHours(now, "08:00", "20:00", "Europe/Berlin")'

upstreams:
  everything:
    transport: stdio
    command: npx
    args: ["--no-install", "mcp-server-everything"]
    # Nothing of the gateway's environment reaches the server unless listed here.
    inheritEnv: [PATH, HOME]
    env: {}
    # One upstream session per client session, so no state of one user reaches another.
    isolation: session

  # remote:
  #   transport: streamable-http
  #   url: https://mcp.example.com/mcp
  #   headers:
  #     Authorization: "Bearer \${env:REMOTE_MCP_TOKEN}"
  #   tls:
  #     ca: \${file:certs/ca.pem}
`;
