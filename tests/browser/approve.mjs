// Drives the devauth verification pages in headless Chromium, like a person:
// open the verification URL, type the user code, log in when asked, then press
// Approve or Deny on the confirm page and check the result page.
//
//   node tests/browser/approve.mjs URL USER_CODE USERNAME PASSWORD approve|deny [SCREENSHOT.png]
//
// URL is the verification URI (e.g. http://127.0.0.1:8080/device). With a
// screenshot path, the confirm page is captured (phone-sized) before the click.
// Prints one JSON line ({"ok":true,"result":"approved"}) and exits 0 on
// success; prints {"ok":false,"error":"..."} and exits 1 otherwise. Every wait
// is bounded, and the browser is always closed.

import { chromium } from 'playwright-core';

const [url, userCode, username, password, action, screenshot] = process.argv.slice(2);
if (!url || !userCode || !username || !password || !['approve', 'deny'].includes(action)) {
  console.error('usage: approve.mjs URL USER_CODE USERNAME PASSWORD approve|deny [SCREENSHOT.png]');
  process.exit(2);
}

const STEP_MS = 20_000;
const executablePath = process.env.DEVAUTH_CHROMIUM || '/usr/bin/chromium';

const browser = await chromium.launch({
  executablePath,
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
  const context = await browser.newContext({
    viewport: { width: 390, height: 844 },
    deviceScaleFactor: 2,
    javaScriptEnabled: false, // the pages must work without it
  });
  const page = await context.newPage();
  page.setDefaultTimeout(STEP_MS);

  const status = (response) => (response ? response.status() : 0);

  let response = await page.goto(url);
  if (status(response) !== 200) throw new Error(`GET ${url} answered ${status(response)}`);

  await page.fill('input[name="user_code"]', userCode);
  [response] = await Promise.all([
    page.waitForNavigation(),
    page.click('form[action="/device"] button[type="submit"]'),
  ]);

  if (await page.locator('input[name="username"]').count()) {
    await page.fill('input[name="username"]', username);
    await page.fill('input[name="password"]', password);
    [response] = await Promise.all([
      page.waitForNavigation(),
      page.click('form[action="/login"] button[type="submit"]'),
    ]);
  }

  const button = page.locator(`button[name="action"][value="${action}"]`);
  if (!(await button.count())) {
    const heading = await page.locator('h1').first().textContent().catch(() => '');
    throw new Error(`no ${action} button; page says: ${heading?.trim()} (${status(response)})`);
  }
  const text = await page.locator('main').innerText();
  if (!/only approve if you started this yourself/i.test(text)) {
    throw new Error('the confirm page lacks the "only approve if you started this yourself" warning');
  }
  if (screenshot) await page.screenshot({ path: screenshot, fullPage: true });

  [response] = await Promise.all([page.waitForNavigation(), button.click()]);
  const heading = (await page.locator('h1').first().textContent()).trim();
  const expected = action === 'approve' ? /all set/i : /denied/i;
  if (status(response) !== 200 || !expected.test(heading)) {
    throw new Error(`after ${action}: ${status(response)} "${heading}"`);
  }
  console.log(JSON.stringify({ ok: true, result: action === 'approve' ? 'approved' : 'denied' }));
} catch (e) {
  console.log(JSON.stringify({ ok: false, error: String(e && e.message ? e.message : e) }));
  process.exitCode = 1;
} finally {
  await browser.close();
}
