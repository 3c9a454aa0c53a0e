// Interop: `devauth mcp login` against panva's oidc-provider (a third-party
// authorization server) with dynamic registration (RFC 7591) and resource
// indicators (RFC 8707) enabled, for an MCP server behind `devauth guard`.
//
//   the official MCP SDK server (tests/interop/mcp_sdk.mjs server)
//     ← devauth guard (tokens from oidc-provider, aud = the guard's URL)
//       ← devauth mcp login URL   (401 → RFC 9728 → OpenID discovery →
//                                   registration → device flow + resource,
//                                   approved in headless Chromium)
//       ← the SDK's stdio client spawning `devauth mcp proxy URL`
//
// Then: the token is a JWT for exactly that resource, a refresh names the
// resource again (so it still passes the guard), status shows the login and
// logout revokes it.
//
// usage: node tests/interop/oidc-provider-mcp.mjs /path/to/devauth
// Exit 0 and "INTEROP OK" on success; anything else is a failure. Only
// 127.0.0.1 is contacted.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { errors } from 'oidc-provider';

import {
  check, deadline, devauthRunner, freePort, loopbackOnlyPage, signInAndConsent, startProvider, waitFor,
} from './oidc-provider-common.mjs';

const bin = process.argv[2];
if (!bin) throw new Error('usage: oidc-provider-mcp.mjs DEVAUTH_BINARY');
const timer = deadline(120_000);
const children = [];
process.on('exit', () => children.forEach((c) => c.kill('SIGTERM')));

/** Starts a long-running child and waits for `ready` on its stderr. */
async function daemon(cmd, args, ready, what) {
  const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(child);
  let err = '';
  child.stderr.on('data', (d) => { err += d; });
  await waitFor(() => err.includes(ready) || child.exitCode !== null, 30_000, what);
  check(child.exitCode === null, `${what} exited: ${err}`);
  return () => err;
}

const guardPort = await freePort();
const mcpPort = await freePort();
const resource = `http://127.0.0.1:${guardPort}/mcp`;

// 1. oidc-provider: no preconfigured client, open registration, and JWT
//    access tokens for the MCP server's resource only.
const { issuer, server, provider } = await startProvider({
  clients: [],
  features: {
    registration: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => undefined,
      // With `openid` asked for, a token request that does not name the
      // resource gets an opaque userinfo token instead: devauth must send
      // `resource` at the device grant and at every refresh.
      useGrantedResource: () => false,
      getResourceServerInfo: (ctx, indicator) => {
        if (indicator !== resource) throw new errors.InvalidTarget();
        return { scope: 'mcp:tools', audience: resource, accessTokenFormat: 'jwt', accessTokenTTL: 300 };
      },
    },
  },
});

// 2. the SDK MCP server and devauth guard in front of it.
await daemon(process.execPath, [new URL('./mcp_sdk.mjs', import.meta.url).pathname, 'server', String(mcpPort)],
  'mcp server listening', 'the MCP server');
await daemon(bin, ['guard', '--listen', `127.0.0.1:${guardPort}`, '--upstream', `http://127.0.0.1:${mcpPort}/mcp`,
  '--issuer', issuer, '--resource', resource, '--scope', 'mcp:tools', '--forward-user-header', 'X-Auth-User'],
'devauth guard: listening', 'devauth guard');

// 3. devauth mcp login: it finds oidc-provider from the guard's 401,
//    registers itself, and shows the device-flow screen.
const devauth = devauthRunner(bin);
const login = devauth.start(['mcp', 'login', resource, '--no-qr',
  '--scope', 'openid', '--scope', 'offline_access', '--scope', 'mcp:tools']);
const link = await waitFor(() => login.err.match(/Direct link \(code included\): (\S+)/)?.[1], 20_000,
  'the login screen');
check(login.err.includes(`authorization server ${issuer}`), `names the authorization server: ${login.err}`);

const clientFiles = readdirSync(join(devauth.home, 'mcp', 'clients'));
check(clientFiles.length === 1, `one registration kept: ${clientFiles}`);
const clientId = JSON.parse(readFileSync(join(devauth.home, 'mcp', 'clients', clientFiles[0]), 'utf8')).client_id;
const registered = await provider.Client.find(clientId);
check(registered && registered.tokenEndpointAuthMethod === 'none', `oidc-provider knows the public client ${clientId}`);
check(registered.grantTypes.includes('urn:ietf:params:oauth:grant-type:device_code'), 'registered for the device grant');

// 4. the person approves in headless Chromium on oidc-provider's pages.
const { browser, page } = await loopbackOnlyPage();
try {
  await page.goto(link);
  await page.click('button[autofocus]'); // confirm the pre-filled user code
  await signInAndConsent(page, 'alice');
  await page.waitForLoadState();
  const text = await page.textContent('body');
  check(/success|signed in/i.test(text), `success page: ${text}`);
} finally {
  await browser.close();
}
await login.done;
check(login.code === 0, `mcp login exit ${login.code}: ${login.err}`);

// 5. the token is oidc-provider's JWT for exactly this resource.
const claims = (headersOut) => {
  const auth = JSON.parse(headersOut).Authorization;
  check(auth?.startsWith('Bearer '), `a bearer header: ${headersOut}`);
  const jwt = auth.slice('Bearer '.length);
  check(jwt.split('.').length === 3, 'a JWT for the resource, not an opaque (userinfo) token');
  return { jwt, ...JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString()) };
};
const h1 = await devauth.run(['mcp', 'headers', resource]);
check(h1.code === 0, `mcp headers: ${h1.err}`);
const c1 = claims(h1.out);
const aud = [c1.aud].flat();
check(c1.iss === issuer && aud.length === 1 && aud[0] === resource, `JWT for the resource: ${JSON.stringify(c1)}`);
check(c1.sub === 'alice' && c1.scope.split(' ').includes('mcp:tools'), `subject and scope: ${JSON.stringify(c1)}`);
check(c1.client_id === clientId, `issued to the registered client: ${c1.client_id}`);

// 6. the SDK's stdio client spawns `devauth mcp proxy`: tools/list, a tool
//    streaming over SSE, and the guard's user header reaching the server.
const sdk = await new Promise((resolve) => {
  const child = spawn(process.execPath,
    [new URL('./mcp_sdk.mjs', import.meta.url).pathname, 'stdio-client', bin, 'mcp', 'proxy', resource],
    { env: devauth.env });
  let out = ''; let err = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { err += d; });
  child.on('close', (code) => resolve({ code, out, err }));
});
check(sdk.code === 0, `SDK stdio client: ${sdk.out} ${sdk.err}`);
const seen = JSON.parse(sdk.out);
check(seen.tools.join(',') === 'countdown,whoami', `tools: ${sdk.out}`);
check(seen.first === 'liftoff' && seen.notes.length === 2, `streamed tool: ${sdk.out}`);
check(seen.second === 'alice', `the guard forwarded the subject: ${sdk.out}`);

// 7. a forced refresh names the resource again: the new token is still a
//    JWT for this MCP server and the guard lets it through.
const h2 = await devauth.run(['mcp', 'headers', resource, '--min-ttl', '100000']);
check(h2.code === 0, `refresh: ${h2.err}`);
const c2 = claims(h2.out);
check(c2.jti !== c1.jti, 'the refresh gave a new token');
check([c2.aud].flat().join() === resource, `refreshed JWT for the resource: ${JSON.stringify(c2)}`);
const through = await fetch(resource, {
  method: 'POST',
  headers: {
    authorization: `Bearer ${c2.jwt}`,
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
  },
  body: JSON.stringify({
    jsonrpc: '2.0',
    id: 1,
    method: 'initialize',
    params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'interop', version: '1' } },
  }),
});
check(through.status === 200, `the guard takes the refreshed token: ${through.status}`);
await through.body?.cancel();

// 8. status shows the MCP login; logout revokes its refresh token.
const profile = `mcp-127.0.0.1-${guardPort}`;
const st = await devauth.run(['status', '--profile', profile, '--json']);
check(st.code === 0, `status: ${st.err}`);
const status = JSON.parse(st.out);
check(status.account === 'alice' && status.issuer === issuer, `status: ${st.out}`);
const lo = await devauth.run(['logout', '--profile', profile]);
check(lo.code === 0 && lo.err.includes('revoked'), `logout: ${lo.err}`);
const after = await devauth.run(['mcp', 'headers', resource]);
check(after.code === 3 && after.err.includes('devauth mcp login') && !after.err.includes('run `devauth login`'), `after logout: ${after.code} ${after.err}`);

clearTimeout(timer);
server.close();
console.log('INTEROP OK');
process.exit(0);
