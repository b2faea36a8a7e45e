// Forward authentication in a real browser (SPEC §9.2): Chromium opens an
// app behind Debian's nginx (deploy/nginx's snippets), is sent to nidan's
// sign-in page, creates an account, is told the app needs two-step
// verification, turns it on in the wizard and continues straight to the
// app, which sees who it is. Signing out from the app's link ends access;
// signing in again returns to the page first asked for; a return URL to a
// foreign host is not followed. Host names *.nidan.test map to loopback.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { enrolApp, freePort, launchChromium, screenshots, signUp, startNginx, startNidan, totp } from '../lib.mjs';

let nidan;
let nginx;
let browser;
let port;
let configDir;

before(async () => {
  mkdirSync(screenshots, { recursive: true });
  port = await freePort();
  configDir = mkdtempSync(join(tmpdir(), 'nidan-fa-'));
  const config = join(configDir, 'nidan.toml');
  writeFileSync(config, `
public_url = "http://auth.nidan.test:${port}"

[forward_auth]
cookie_domain = "nidan.test"

[[forward_auth.rules]]
host = "app.nidan.test"
`);
  nidan = await startNidan({ NIDAN_POLICY__BACKUP_RULE: 'any_other_method' }, ['--config', config]);
  nginx = await startNginx(port, nidan.ip);
  browser = await launchChromium([`--host-resolver-rules=MAP *.nidan.test 127.0.0.1`]);
});

after(async () => {
  await browser?.close();
  await nginx?.stop();
  await nidan?.stop();
  if (configDir) rmSync(configDir, { recursive: true, force: true });
});

const email = 'kenji@example.com';
const password = 'sakura saku';

test('an app behind nginx: sign in, turn on 2SV, continue to the app, sign out', async () => {
  const auth = `http://auth.nidan.test:${port}`;
  const wanted = `http://app.nidan.test:${port}/reports/2026?week=47`;
  const me = await browser.newContext({ locale: 'en-US', viewport: { width: 420, height: 900 } });
  const page = await me.newPage();

  // Anonymous: the app sends the browser to nidan's sign-in page.
  await page.goto(wanted);
  assert.equal(page.url(), `${auth}/signin?rd=${encodeURIComponent(wanted)}`);

  // A new account, password only: the app still refuses it and says why.
  await page.click('text=Create your account');
  await signUp(page, nidan, email, password, { open: false });
  await page.goto(wanted);
  await page.waitForSelector('#gate');
  assert.match(await page.locator('#gate').textContent(), /app\.nidan\.test can only be opened with two-step verification/);
  await page.screenshot({ path: join(screenshots, 'forward-auth-needs-2sv.png'), fullPage: true });

  // The wizard, then "Continue to app.nidan.test": the app, as this account.
  await page.click('#gate-action');
  await page.waitForURL('**/security/wizard');
  const key = await enrolApp(page, 'Phone app');
  await page.waitForURL('**/security/wizard');
  await enrolApp(page, 'Tablet app');
  await page.waitForURL('**/security/wizard');
  await page.click('main button[type=submit]');
  await page.waitForSelector('#backup-codes');
  assert.equal((await page.locator('#continue-to').textContent()).trim(), 'Continue to app.nidan.test');
  await page.click('#continue-to');
  await page.waitForURL(wanted);
  assert.equal(await page.locator('#app').textContent(),
    `app page /reports/2026?week=47 user=[${email}] email=[${email}] groups=[]`);

  // The app's "Sign out" link: one confirmation, then the app refuses.
  await page.goto(`${auth}/signout?rd=${encodeURIComponent(wanted)}`);
  await page.click('#signout-confirm');
  await page.waitForURL(`${auth}/signin?rd=${encodeURIComponent(wanted)}`);

  // Signing in again, with the code, returns to the page first asked for.
  await page.fill('#email', email);
  await page.click('main button[type=submit]');
  await page.waitForURL('**/signin/password');
  await page.fill('#password', password);
  await page.click('main button[type=submit]');
  await page.waitForURL('**/signin/code');
  await page.goto(wanted);
  assert.ok(page.url().startsWith(`${auth}/signin?rd=`), 'no code yet: still refused');
  await page.goto(`${auth}/signin/code`);
  await page.fill('#code', totp(key, 1));
  await page.click('main button[type=submit]');
  await page.waitForURL(wanted);
  assert.match(await page.locator('#app').textContent(), /user=\[kenji@example\.com\]/);

  // A return URL to a foreign host is ignored: nidan's page, no redirect.
  await page.goto(`${auth}/signin?rd=${encodeURIComponent('http://evil.test/')}`);
  assert.equal(page.url(), `${auth}/signin?rd=${encodeURIComponent('http://evil.test/')}`);
  await me.close();
});
