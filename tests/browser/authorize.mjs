// Drives the devauth /oauth/authorize pages (loopback + PKCE) in headless
// Chromium: open the authorization URL, log in when asked, press Allow or Deny
// on the consent page, and report where the browser was sent.
//
//   node tests/browser/authorize.mjs AUTHORIZE_URL USERNAME PASSWORD approve|deny
//
// Prints one JSON line ({"ok":true,"redirect":"http://127.0.0.1:PORT/cb?code=..."})
// and exits 0, or {"ok":false,"error":"..."} and exits 1. The redirect target
// must be served by the caller (the Rust test runs a one-shot listener).

import { chromium } from 'playwright-core';

const [url, username, password, action] = process.argv.slice(2);
if (!url || !username || !password || !['approve', 'deny'].includes(action)) {
  console.error('usage: authorize.mjs AUTHORIZE_URL USERNAME PASSWORD approve|deny');
  process.exit(2);
}

const STEP_MS = 20_000;
const browser = await chromium.launch({
  executablePath: process.env.DEVAUTH_CHROMIUM || '/usr/bin/chromium',
  headless: true,
  timeout: STEP_MS,
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
  ],
});

try {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  page.setDefaultTimeout(STEP_MS);
  const origin = new URL(url).origin;

  await page.goto(url);
  if (await page.locator('input[name="username"]').count()) {
    await page.fill('input[name="username"]', username);
    await page.fill('input[name="password"]', password);
    await Promise.all([
      page.waitForURL((u) => u.pathname === '/oauth/authorize'),
      page.click('form[action="/login"] button[type="submit"]'),
    ]);
  }
  const button = page.locator(`button[name="action"][value="${action}"]`);
  if (!(await button.count())) {
    const heading = await page.locator('h1').first().textContent().catch(() => '');
    throw new Error(`no ${action} button; page says: ${heading?.trim()}`);
  }
  await Promise.all([
    page.waitForURL((u) => u.origin !== origin),
    button.click(),
  ]);
  console.log(JSON.stringify({ ok: true, redirect: page.url() }));
} catch (e) {
  console.log(JSON.stringify({ ok: false, error: String(e && e.message ? e.message : e) }));
  process.exitCode = 1;
} finally {
  await browser.close();
}
