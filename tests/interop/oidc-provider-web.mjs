// Interop: `devauth login --web` (authorization code + PKCE S256 on a
// 127.0.0.1 loopback redirect) against panva's oidc-provider. $BROWSER is a
// script that hands the URL to this process, which opens it in headless
// Chromium and signs in; the browser then follows the redirect to devauth's
// loopback listener, and devauth exchanges the code with its verifier.
//
// usage: node tests/interop/oidc-provider-web.mjs /path/to/devauth
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import {
  check, deadline, devauthRunner, loopbackOnlyPage, signInAndConsent, startProvider, userinfo, waitFor,
} from './oidc-provider-common.mjs';

const bin = process.argv[2];
if (!bin) throw new Error('usage: oidc-provider-web.mjs DEVAUTH_BINARY');
const timer = deadline(90_000);
const { issuer, server } = await startProvider();
const probe = devauthRunner(bin);
const urlFile = join(probe.home, 'browser-url');
const browserScript = join(probe.home, 'browser.sh');
writeFileSync(browserScript, `#!/bin/sh\nprintf '%s' "$1" > '${urlFile}'\n`);
chmodSync(browserScript, 0o755);
const devauth = devauthRunner(bin, { BROWSER: browserScript });

const login = devauth.start(['login', '--web', '--issuer', issuer]);
const url = await waitFor(() => existsSync(urlFile) && readFileSync(urlFile, 'utf8'), 20_000, '$BROWSER to be called');
const u = new URL(url);
check(u.searchParams.get('code_challenge_method') === 'S256', `PKCE S256: ${url}`);
check(u.searchParams.get('redirect_uri').startsWith('http://127.0.0.1:'), `loopback redirect: ${url}`);

const { browser, page } = await loopbackOnlyPage();
try {
  await page.goto(url);
  await signInAndConsent(page, 'bob');
  await login.done;
} finally {
  await browser.close();
}
check(login.code === 0, `login --web exit ${login.code}: ${login.err}`);
check(login.err.includes('as bob'), `account shown: ${login.err}`);

const st = await devauth.run(['status', '--json']);
const status = JSON.parse(st.out);
check(status.source === 'loopback' && status.refresh_token === 'ok', `status: ${st.out}`);
const t1 = await devauth.run(['token']);
check(t1.code === 0 && await userinfo(issuer, t1.out.trim()) === 200, `token works: ${t1.err}`);
const t2 = await devauth.run(['token', '--min-ttl', '100000']);
check(t2.code === 0 && await userinfo(issuer, t2.out.trim()) === 200, `refreshed token works: ${t2.err}`);

clearTimeout(timer);
server.close();
console.log('INTEROP OK');
process.exit(0);
