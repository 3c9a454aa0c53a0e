// Interop: the real `devauth` binary against panva's oidc-provider (a
// third-party OpenID Provider) with the device flow, the approval clicked
// through oidc-provider's own pages in headless Chromium (playwright-core).
//
// usage: node tests/interop/oidc-provider-device.mjs /path/to/devauth
// Exit 0 and "INTEROP OK" on success; anything else is a failure. Only
// 127.0.0.1 is contacted: Chromium's requests elsewhere are aborted.
import {
  check, deadline, devauthRunner, loopbackOnlyPage, signInAndConsent, startProvider, userinfo, waitFor,
} from './oidc-provider-common.mjs';

const bin = process.argv[2];
if (!bin) throw new Error('usage: oidc-provider-device.mjs DEVAUTH_BINARY');
const timer = deadline(90_000);
const { issuer, server } = await startProvider();
const devauth = devauthRunner(bin);

// 1. devauth login: read the direct link from its login screen.
const login = devauth.start(['login', '--issuer', issuer]);
const link = await waitFor(() => login.err.match(/Direct link \(code included\): (\S+)/)?.[1], 20_000, 'the login screen');
check(login.err.includes(`${issuer}/device`), `verification URI shown: ${login.err}`);

// 2. approve in headless Chromium through oidc-provider's pages.
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
check(login.code === 0, `login exit ${login.code}: ${login.err}`);
check(login.err.includes('as alice'), `account shown: ${login.err}`);

// 3. token, refresh (rotation), status, logout with revocation.
const t1 = await devauth.run(['token']);
check(t1.code === 0, `token: ${t1.err}`);
check(await userinfo(issuer, t1.out.trim()) === 200, 'the token works at userinfo');
const t2 = await devauth.run(['token', '--min-ttl', '100000']);
check(t2.code === 0, `refresh: ${t2.err}`);
check(t2.out.trim() !== t1.out.trim(), 'refresh gave a new token');
check(await userinfo(issuer, t2.out.trim()) === 200, 'the refreshed token works');
const t3 = await devauth.run(['token', '--min-ttl', '100000']);
check(t3.code === 0, `second refresh (rotated refresh token): ${t3.err}`);
const st = await devauth.run(['status', '--json']);
check(st.code === 0, `status: ${st.err}`);
const status = JSON.parse(st.out);
check(status.account === 'alice' && status.refresh_token === 'ok', `status: ${st.out}`);
const lo = await devauth.run(['logout']);
check(lo.code === 0 && lo.err.includes('revoked'), `logout: ${lo.err}`);
check(await userinfo(issuer, t3.out.trim()) === 401, 'the revoked token no longer works');

clearTimeout(timer);
server.close();
console.log('INTEROP OK');
process.exit(0);
