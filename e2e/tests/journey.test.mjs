// The journey of SPEC §3/§4 in a real browser: sign up, the three-page
// wizard with two authenticator apps (codes computed from the key read off
// the page), sign out, sign in with a code and "Don't require codes on this
// browser", sign in again without a code, clear cookies and be asked again,
// and a backup code that works once and only once.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { enrolApp, launchChromium, screenshots, signIn as signInWith, signUp, startNidan, totp } from '../lib.mjs';

let nidan;
let browser;

before(async () => {
  mkdirSync(screenshots, { recursive: true });
  // Two authenticator apps: allowed by this rule (the default is Amazon's:
  // a phone backup after an app primary, covered by phones.test.mjs).
  nidan = await startNidan({ NIDAN_POLICY__BACKUP_RULE: 'any_other_method' });
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await nidan?.stop();
});

const email = 'hanako@example.com';
const password = 'tsuki to hoshi';

const signIn = (page) => signInWith(page, nidan.base, email, password);

async function signOut(page) {
  await page.click('header button:has-text("Sign out")');
  await page.waitForURL('**/signin');
}

test('sign up, turn on 2SV with two apps, and sign in the ways people do', async () => {
  const context = await browser.newContext({ locale: 'en-US', viewport: { width: 420, height: 860 } });
  const page = await context.newPage();

  await signUp(page, nidan, email, password);
  await page.click('text=Get started');
  await page.waitForURL('**/security/wizard');
  await page.screenshot({ path: join(screenshots, 'wizard-1-choose.png'), fullPage: true });
  const primaryKey = await enrolApp(page, 'Phone app', 'wizard-1-app.png');

  await page.waitForURL('**/security/wizard');
  assert.ok(await page.locator('text=Add a backup method').isVisible());
  const backupKey = await enrolApp(page, 'kagi on my PC', 'wizard-2-app.png');

  await page.waitForURL('**/security/wizard');
  assert.ok(await page.locator('text=Almost done').isVisible());
  assert.ok(await page.locator('text=mypassword123456').isVisible(), 'page 3 explains password + code');
  await page.screenshot({ path: join(screenshots, 'wizard-3-final.png'), fullPage: true });
  await page.click('main button[type=submit]');
  await page.waitForSelector('#backup-codes');
  assert.ok(await page.locator('text=Two-step verification is on').isVisible());
  const codes = (await page.locator('#backup-codes li').allTextContents()).map((c) => c.trim());
  assert.equal(codes.length, 10);
  await page.screenshot({ path: join(screenshots, 'wizard-done.png'), fullPage: true });

  // Sign out; sign in with a code and "Don't require codes on this browser".
  await page.goto(`${nidan.base}/account`);
  await signOut(page);
  await signIn(page);
  await page.waitForURL('**/signin/code');
  // "Didn't receive the code?" lists every other way, apps by name.
  await page.click('summary');
  assert.ok(await page.locator('text=Use my authenticator app (Phone app)').isVisible());
  assert.ok(await page.locator('text=Use my authenticator app (kagi on my PC)').isVisible());
  assert.ok(await page.locator('text=Use a backup code').isVisible());
  await page.screenshot({ path: join(screenshots, 'code-page.png'), fullPage: true });
  // Enrolment used the current step; the next one is within the window.
  await page.fill('#code', totp(primaryKey, 1));
  await page.check('input[name=remember]');
  await page.click('main form button[type=submit]');
  await page.waitForURL('**/account');

  // Signed out and in again: this browser is remembered, no code asked.
  await signOut(page);
  await signIn(page);
  await page.waitForURL('**/account');

  // Cookies cleared: asked again.
  await context.clearCookies();
  await signIn(page);
  await page.waitForURL('**/signin/code');
  await page.fill('#code', totp(backupKey, 1));
  await page.click('main form button[type=submit]');
  await page.waitForURL('**/account');

  // A backup code works once...
  await signOut(page);
  await context.clearCookies();
  await signIn(page);
  await page.waitForURL('**/signin/code');
  await page.fill('#code', codes[0]);
  await page.click('main form button[type=submit]');
  await page.waitForURL('**/account');
  // ...and only once.
  await signOut(page);
  await signIn(page);
  await page.waitForURL('**/signin/code');
  await page.fill('#code', codes[0]);
  await page.click('main form button[type=submit]');
  await page.waitForSelector('.error');
  assert.match(await page.locator('.error').textContent(), /not correct\. 4 tries left/);

  // The settings page lists both apps and the remembered-browser count.
  await page.fill('#code', codes[1]);
  await page.click('main form button[type=submit]');
  await page.waitForURL('**/account');
  await page.goto(`${nidan.base}/security`);
  const html = await page.content();
  assert.ok(html.includes('Phone app') && html.includes('kagi on my PC'));
  assert.ok(html.includes('Backup codes: 8 left'));
  await page.screenshot({ path: join(screenshots, 'security-settings.png'), fullPage: true });
  await context.close();
});

test('the pages speak Japanese to a Japanese browser', async () => {
  const context = await browser.newContext({ locale: 'ja-JP' });
  const page = await context.newPage();
  await page.goto(`${nidan.base}/signin`);
  assert.ok(await page.locator('h1:has-text("ログイン")').isVisible());
  await page.click('header button:has-text("English")');
  assert.ok(await page.locator('h1:has-text("Sign in")').isVisible());
  await context.close();
});
