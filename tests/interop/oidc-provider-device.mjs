// Interop: the real `devauth` binary against panva's oidc-provider (a
// third-party OpenID Provider), the approval clicked through oidc-provider's
// own pages in headless Chromium (playwright-core).
//
// usage: node tests/interop/oidc-provider-device.mjs /path/to/devauth
// Exit 0 and "INTEROP OK" on success; anything else is a failure. Only
// 127.0.0.1 is contacted: Chromium's requests elsewhere are aborted.
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import Provider from 'oidc-provider';
import { chromium } from 'playwright-core';

const devauth = process.argv[2];
if (!devauth) throw new Error('usage: oidc-provider-device.mjs DEVAUTH_BINARY');
const deadline = setTimeout(() => { console.error('interop test timed out'); process.exit(1); }, 90_000);

const server = createServer();
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const issuer = `http://127.0.0.1:${server.address().port}`;
const provider = new Provider(issuer, {
  clients: [{
    client_id: 'devauth-cli',
    token_endpoint_auth_method: 'none',
    grant_types: ['urn:ietf:params:oauth:grant-type:device_code', 'refresh_token'],
    response_types: [],
    redirect_uris: [],
  }],
  features: {
    deviceFlow: { enabled: true },
    revocation: { enabled: true },
    devInteractions: { enabled: true },
  },
  scopes: ['openid', 'offline_access'],
  cookies: { keys: ['interop-test-only'] },
  findAccount: (ctx, id) => ({ accountId: id, claims: () => ({ sub: id }) }),
});
provider.on('server_error', (ctx, err) => console.error('provider error', err));
server.on('request', provider.callback());

const home = mkdtempSync(join(tmpdir(), 'devauth-interop-'));
const env = { ...process.env, DEVAUTH_HOME: home };
for (const v of ['DEVAUTH_TOKEN', 'DEVAUTH_PROFILE', 'DEVAUTH_STORE', 'DISPLAY', 'WAYLAND_DISPLAY']) delete env[v];

function run(args, { input } = {}) {
  return new Promise((resolve) => {
    const child = spawn(devauth, args, { env });
    let out = ''; let err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    if (input !== undefined) child.stdin.end(input); else child.stdin.end();
    child.on('close', (code) => resolve({ code, out, err }));
  });
}

function check(cond, msg) {
  if (!cond) { console.error(`FAIL: ${msg}`); process.exit(1); }
}

async function userinfo(token) {
  const r = await fetch(`${issuer}/me`, { headers: { authorization: `Bearer ${token}` } });
  return r.status;
}

// 1. devauth login: read the direct link from its login screen.
const login = spawn(devauth, ['login', '--issuer', issuer], { env });
let screen = '';
const loginDone = new Promise((resolve) => login.on('close', resolve));
const link = await new Promise((resolve) => {
  login.stderr.on('data', (d) => {
    screen += d;
    const m = screen.match(/Direct link \(code included\): (\S+)/);
    if (m) resolve(m[1]);
  });
});
check(screen.includes(`${issuer}/device`), `verification URI shown: ${screen}`);

// 2. approve in headless Chromium through oidc-provider's pages.
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--no-first-run'],
});
try {
  const page = await browser.newPage();
  await page.route('**/*', (route) => (new URL(route.request().url()).hostname === '127.0.0.1'
    ? route.continue() : route.abort()));
  await page.goto(link);
  await page.click('button[autofocus]'); // confirm the pre-filled user code
  await page.fill('input[name=login]', 'alice');
  await page.fill('input[name=password]', 'any');
  await page.click('button[type=submit]'); // Sign-in
  await page.click('button[type=submit]'); // consent: Continue
  await page.waitForLoadState();
  const text = await page.textContent('body');
  check(/success|signed in/i.test(text), `success page: ${text}`);
} finally {
  await browser.close();
}
const loginCode = await loginDone;
check(loginCode === 0, `login exit ${loginCode}: ${screen}`);
check(screen.includes('as alice'), `account shown: ${screen}`);

// 3. token, refresh (rotation), status, logout with revocation.
const t1 = await run(['token']);
check(t1.code === 0, `token: ${t1.err}`);
check(await userinfo(t1.out.trim()) === 200, 'the token works at userinfo');
const t2 = await run(['token', '--min-ttl', '100000']);
check(t2.code === 0, `refresh: ${t2.err}`);
check(t2.out.trim() !== t1.out.trim(), 'refresh gave a new token');
check(await userinfo(t2.out.trim()) === 200, 'the refreshed token works');
const t3 = await run(['token', '--min-ttl', '100000']);
check(t3.code === 0, `second refresh (rotated refresh token): ${t3.err}`);
const st = await run(['status', '--json']);
check(st.code === 0, `status: ${st.err}`);
const status = JSON.parse(st.out);
check(status.account === 'alice' && status.refresh_token === 'ok', `status: ${st.out}`);
const lo = await run(['logout']);
check(lo.code === 0 && lo.err.includes('revoked'), `logout: ${lo.err}`);
check(await userinfo(t3.out.trim()) === 401, 'the revoked token no longer works');

clearTimeout(deadline);
server.close();
console.log('INTEROP OK');
process.exit(0);
