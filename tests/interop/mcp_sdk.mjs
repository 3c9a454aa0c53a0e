// The official MCP TypeScript SDK (@modelcontextprotocol/sdk) on both sides
// of `devauth guard`:
//
//   node tests/interop/mcp_sdk.mjs server PORT
//     An SDK MCP server (Streamable HTTP, stateful sessions, SSE answers) on
//     127.0.0.1:PORT/mcp with no auth of its own. Tools: `whoami` (the
//     X-Auth-User header the guard put in) and `countdown` (n log
//     notifications on the request's SSE stream, then the result). Prints
//     "mcp server listening" on stderr.
//
//   node tests/interop/mcp_sdk.mjs client MCP_URL USERNAME PASSWORD
//     The SDK's client with its own OAuth support: connect → 401 → RFC 9728
//     metadata → RFC 8414 discovery → RFC 7591 registration → authorization
//     code + PKCE + resource; headless Chromium (playwright-core) logs in as
//     USERNAME and approves on devauth's pages; then the SDK finishes the
//     login, reconnects, lists the tools and calls both. Prints one JSON line
//     with what happened and exits 0, or {"ok":false,"error":...} and 1.

import http from 'node:http';
import { randomUUID } from 'node:crypto';

const [mode, ...rest] = process.argv.slice(2);

if (mode === 'server') {
  const { McpServer } = await import('@modelcontextprotocol/sdk/server/mcp.js');
  const { StreamableHTTPServerTransport } = await import(
    '@modelcontextprotocol/sdk/server/streamableHttp.js'
  );
  const { z } = await import('zod');
  const port = Number(rest[0]);
  const transports = new Map();

  const serverFor = (user) => {
    const server = new McpServer(
      { name: 'devauth-interop', version: '1.0.0' },
      { capabilities: { logging: {} } },
    );
    server.registerTool(
      'whoami',
      { description: 'The user the guard says is calling' },
      async () => ({ content: [{ type: 'text', text: user ?? '' }] }),
    );
    server.registerTool(
      'countdown',
      { description: 'Counts down, logging each step', inputSchema: { n: z.number().int() } },
      async ({ n }, extra) => {
        for (let i = n; i > 0; i--) {
          await extra.sendNotification({
            method: 'notifications/message',
            params: { level: 'info', data: `tick ${i}` },
          });
          await new Promise((r) => setTimeout(r, 50));
        }
        return { content: [{ type: 'text', text: 'liftoff' }] };
      },
    );
    return server;
  };

  http
    .createServer(async (req, res) => {
      try {
        if (!req.url.startsWith('/mcp')) {
          res.writeHead(404).end();
          return;
        }
        let body = '';
        for await (const chunk of req) body += chunk;
        const json = body ? JSON.parse(body) : undefined;
        const sid = req.headers['mcp-session-id'];
        let transport = sid ? transports.get(sid) : undefined;
        if (!transport) {
          if (sid) {
            res.writeHead(404).end();
            return;
          }
          transport = new StreamableHTTPServerTransport({
            sessionIdGenerator: () => randomUUID(),
            onsessioninitialized: (id) => transports.set(id, transport),
          });
          await serverFor(req.headers['x-auth-user']).connect(transport);
        }
        await transport.handleRequest(req, res, json);
      } catch (e) {
        console.error('mcp server error:', e);
        if (!res.headersSent) res.writeHead(500).end();
      }
    })
    .listen(port, '127.0.0.1', () => console.error(`mcp server listening on ${port}`));
} else if (mode === 'client') {
  const [mcpUrl, username, password] = rest;
  let code = 0;
  try {
    console.log(JSON.stringify(await client(mcpUrl, username, password)));
  } catch (e) {
    console.log(JSON.stringify({ ok: false, error: String(e?.stack ?? e) }));
    code = 1;
  }
  // The loopback listener or a keep-alive socket must not keep us running.
  process.exit(code);
} else if (mode === 'stdio-client') {
  // The SDK's stdio client spawning a bridge: COMMAND ARGS... (env WAIT_SECS
  // between two tool calls, to outlive an access token).
  let code = 0;
  try {
    console.log(JSON.stringify(await stdioClient(rest[0], rest.slice(1))));
  } catch (e) {
    console.log(JSON.stringify({ ok: false, error: String(e?.stack ?? e) }));
    code = 1;
  }
  process.exit(code);
} else {
  console.error('usage: mcp_sdk.mjs server PORT | client MCP_URL USERNAME PASSWORD | stdio-client COMMAND ARGS...');
  process.exit(2);
}

async function client(mcpUrl, username, password) {
  const { Client } = await import('@modelcontextprotocol/sdk/client/index.js');
  const { StreamableHTTPClientTransport } = await import(
    '@modelcontextprotocol/sdk/client/streamableHttp.js'
  );
  const { UnauthorizedError } = await import('@modelcontextprotocol/sdk/client/auth.js');
  const { LoggingMessageNotificationSchema } = await import(
    '@modelcontextprotocol/sdk/types.js'
  );

  // The loopback redirect target (RFC 8252): takes the code, says "done".
  let gotCode;
  const code = new Promise((resolve) => (gotCode = resolve));
  const callback = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://127.0.0.1');
    res.end('login complete, you can close this page');
    gotCode(url.searchParams.get('code'));
  });
  await new Promise((r) => callback.listen(0, '127.0.0.1', r));
  const redirectUrl = `http://127.0.0.1:${callback.address().port}/callback`;

  const state = { client: undefined, tokens: undefined, verifier: undefined, authUrl: undefined };
  const provider = {
    get redirectUrl() {
      return redirectUrl;
    },
    get clientMetadata() {
      return {
        client_name: 'MCP SDK interop test',
        redirect_uris: [redirectUrl],
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        token_endpoint_auth_method: 'none',
      };
    },
    clientInformation: () => state.client,
    saveClientInformation: (info) => (state.client = info),
    tokens: () => state.tokens,
    saveTokens: (t) => (state.tokens = t),
    redirectToAuthorization: (url) => (state.authUrl = url),
    saveCodeVerifier: (v) => (state.verifier = v),
    codeVerifier: () => state.verifier,
  };

  const url = new URL(mcpUrl);
  let transport = new StreamableHTTPClientTransport(url, { authProvider: provider });
  const first = new Client({ name: 'devauth-interop', version: '1.0.0' });
  try {
    await first.connect(transport);
    throw new Error('connected without a login: the guard let an unauthenticated client in');
  } catch (e) {
    if (!(e instanceof UnauthorizedError)) throw e;
  }
  if (!state.authUrl) throw new Error('the SDK did not start an authorization');

  await approveInChromium(state.authUrl, username, password);
  await transport.finishAuth(await code);
  callback.close();

  transport = new StreamableHTTPClientTransport(url, { authProvider: provider });
  const mcp = new Client({ name: 'devauth-interop', version: '1.0.0' });
  const notes = [];
  mcp.setNotificationHandler(LoggingMessageNotificationSchema, (n) => notes.push(n.params.data));
  await mcp.connect(transport);
  const tools = (await mcp.listTools()).tools.map((t) => t.name).sort();
  const whoami = await mcp.callTool({ name: 'whoami', arguments: {} });
  const countdown = await mcp.callTool({ name: 'countdown', arguments: { n: 3 } });
  await transport.terminateSession().catch(() => {});
  await mcp.close();
  return {
    ok: true,
    client_id: state.client?.client_id,
    authorize: {
      resource: state.authUrl.searchParams.get('resource'),
      code_challenge_method: state.authUrl.searchParams.get('code_challenge_method'),
      scope: state.authUrl.searchParams.get('scope'),
    },
    access_token: state.tokens?.access_token,
    has_refresh_token: Boolean(state.tokens?.refresh_token),
    tools,
    whoami: whoami.content[0].text,
    countdown: countdown.content[0].text,
    notes,
  };
}

// The person, in headless Chromium: tests/browser/authorize.mjs logs in and
// approves on devauth's pages; the redirect lands on our callback server.
async function approveInChromium(authUrl, username, password) {
  const { execFile } = await import('node:child_process');
  const script = new URL('../browser/authorize.mjs', import.meta.url).pathname;
  await new Promise((resolve, reject) =>
    execFile(process.execPath, [script, authUrl.href, username, password, 'approve'], (err, stdout) =>
      err ? reject(new Error(`authorize.mjs failed: ${stdout || err.message}`)) : resolve(),
    ),
  );
}

async function stdioClient(command, args) {
  const { Client } = await import('@modelcontextprotocol/sdk/client/index.js');
  const { StdioClientTransport } = await import('@modelcontextprotocol/sdk/client/stdio.js');
  const { LoggingMessageNotificationSchema } = await import('@modelcontextprotocol/sdk/types.js');
  const env = {};
  for (const k of ['DEVAUTH_HOME', 'DEVAUTH_STORE', 'PATH', 'HOME']) {
    if (process.env[k]) env[k] = process.env[k];
  }
  const transport = new StdioClientTransport({ command, args, env, stderr: 'inherit' });
  const mcp = new Client({ name: 'devauth-stdio-interop', version: '1.0.0' });
  const notes = [];
  mcp.setNotificationHandler(LoggingMessageNotificationSchema, (n) => notes.push(n.params.data));
  await mcp.connect(transport);
  const tools = (await mcp.listTools()).tools.map((t) => t.name).sort();
  const first = await mcp.callTool({ name: 'countdown', arguments: { n: 2 } });
  await new Promise((r) => setTimeout(r, Number(process.env.WAIT_SECS || 0) * 1000));
  const second = await mcp.callTool({ name: 'whoami', arguments: {} });
  await mcp.close();
  return {
    ok: true,
    tools,
    first: first.content[0].text,
    second: second.content[0].text,
    notes,
  };
}
