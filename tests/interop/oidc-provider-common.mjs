// Shared pieces of the oidc-provider interop scripts: a provider on an
// ephemeral 127.0.0.1 port, a devauth runner with a temp DEVAUTH_HOME, and
// headless Chromium that may only talk to 127.0.0.1.
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import Provider from 'oidc-provider';
import { chromium } from 'playwright-core';

export function check(cond, msg) {
  if (!cond) { console.error(`FAIL: ${msg}`); process.exit(1); }
}

export function deadline(ms) {
  return setTimeout(() => { console.error('interop test timed out'); process.exit(1); }, ms);
}

/**
 * Starts oidc-provider with the device flow, revocation and a public native
 * client `devauth-cli`. `overrides` replaces top-level settings (`clients`,
 * `scopes`, …) and adds to `features`.
 */
export async function startProvider(overrides = {}) {
  const server = createServer();
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const { features = {}, ...rest } = overrides;
  const provider = new Provider(issuer, {
    clients: [{
      client_id: 'devauth-cli',
      application_type: 'native',
      token_endpoint_auth_method: 'none',
      grant_types: ['urn:ietf:params:oauth:grant-type:device_code', 'refresh_token', 'authorization_code'],
      response_types: ['code'],
      redirect_uris: ['http://127.0.0.1/callback'],
    }],
    features: {
      deviceFlow: { enabled: true },
      revocation: { enabled: true },
      devInteractions: { enabled: true },
      ...features,
    },
    scopes: ['openid', 'offline_access'],
    cookies: { keys: ['interop-test-only'] },
    findAccount: (ctx, id) => ({ accountId: id, claims: () => ({ sub: id }) }),
    ...rest,
  });
  provider.on('server_error', (ctx, err) => console.error('provider error', err));
  server.on('request', provider.callback());
  return { issuer, server, provider };
}

/** A free TCP port on 127.0.0.1 (free when asked; bind it soon). */
export async function freePort() {
  const probe = createServer();
  await new Promise((r) => probe.listen(0, '127.0.0.1', r));
  const { port } = probe.address();
  await new Promise((r) => probe.close(r));
  return port;
}

/** A devauth runner with its own DEVAUTH_HOME and a clean environment. */
export function devauthRunner(bin, extraEnv = {}) {
  const home = mkdtempSync(join(tmpdir(), 'devauth-interop-'));
  const env = { ...process.env, DEVAUTH_HOME: home, ...extraEnv };
  for (const v of ['DEVAUTH_TOKEN', 'DEVAUTH_PROFILE', 'DEVAUTH_STORE', 'DISPLAY', 'WAYLAND_DISPLAY',
    'SSH_CONNECTION', 'SSH_TTY', 'CI', 'GITHUB_ACTIONS', 'GITLAB_CI', 'BUILDKITE', 'JENKINS_URL',
    'TF_BUILD', 'CIRCLECI']) {
    if (!(v in extraEnv)) delete env[v];
  }
  const run = (args) => new Promise((resolve) => {
    const child = spawn(bin, args, { env });
    let out = ''; let err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    child.stdin.end();
    child.on('close', (code) => resolve({ code, out, err }));
  });
  const start = (args) => {
    const child = spawn(bin, args, { env });
    child.stdin.end();
    const result = { code: null, out: '', err: '' };
    child.stdout.on('data', (d) => { result.out += d; });
    child.stderr.on('data', (d) => { result.err += d; });
    result.done = new Promise((resolve) => child.on('close', (code) => { result.code = code; resolve(code); }));
    return result;
  };
  return { home, env, run, start };
}

/** Headless Chromium whose pages can only reach 127.0.0.1. */
export async function loopbackOnlyPage() {
  const browser = await chromium.launch({
    executablePath: process.env.DEVAUTH_CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  const page = await browser.newPage();
  await page.route('**/*', (route) => (new URL(route.request().url()).hostname === '127.0.0.1'
    ? route.continue() : route.abort()));
  return { browser, page };
}

/** Signs in as `login` on oidc-provider's dev interaction pages and consents. */
export async function signInAndConsent(page, login) {
  await page.fill('input[name=login]', login);
  await page.fill('input[name=password]', 'any');
  await page.click('button[type=submit]'); // Sign-in
  await page.click('button[type=submit]'); // consent: Continue
}

/** The HTTP status of the userinfo endpoint for a bearer token. */
export async function userinfo(issuer, token) {
  const r = await fetch(`${issuer}/me`, { headers: { authorization: `Bearer ${token}` } });
  return r.status;
}

/** Waits until `pred()` is truthy, polling every 100 ms, at most `ms`. */
export async function waitFor(pred, ms, what) {
  for (let waited = 0; waited < ms; waited += 100) {
    const v = await pred();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  check(false, `timed out waiting for ${what}`);
  return undefined;
}
