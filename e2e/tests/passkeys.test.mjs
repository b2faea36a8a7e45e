// Passkeys in a real browser: Chromium's virtual authenticators (Chrome
// DevTools Protocol, WebAuthn domain) against a real `nidan serve` with no
// configuration, reached as http://localhost:PORT as nidan says to open it.
// Enrol a passkey as the primary method in the wizard, sign out, sign in
// with it and "Don't require codes on this browser", sign in again without
// a second step, add a security key (usb, no user verification) in the
// settings, remove one; and an answer whose counter went back is refused
// and shows in the audit log.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { enrolApp, launchChromium, screenshots, signIn as signInWith, signUp, startNidan, totp } from '../lib.mjs';

let nidan;
let browser;

before(async () => {
  mkdirSync(screenshots, { recursive: true });
  // A passkey primary with an app as backup (the default rule asks for a
  // phone: covered in the domain tests).
  nidan = await startNidan({ NIDAN_POLICY__BACKUP_RULE: 'any_other_method' });
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await nidan?.stop();
});

const email = 'hanako@example.com';
const password = 'tsuki to hoshi';

/** Waits for `url`, or fails with what the page's passkey error says. */
async function landsOn(page, url) {
  const error = page.waitForSelector('[data-passkey-error]:not([hidden])', { timeout: 15_000 })
    .then(async () => { throw new Error(`passkey error: ${await page.textContent('[data-passkey-error]')}`); });
  await Promise.race([page.waitForURL(url, { timeout: 15_000 }), error]);
}

/** A virtual authenticator on this page's browser; its id. */
async function authenticator(cdp, options) {
  await cdp.send('WebAuthn.enable', { enableUI: false });
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { automaticPresenceSimulation: true, ...options },
  });
  return authenticatorId;
}

test('a passkey from the wizard signs in, remembered; a second key added and removed', async () => {
  const context = await browser.newContext({ locale: 'en-US', viewport: { width: 420, height: 860 } });
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  const platform = await authenticator(cdp, {
    protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true,
  });

  // Visited by its IP address, nidan sends the browser to `localhost`
  // first (a passkey's relying party cannot be an IP address).
  await page.goto(`${nidan.ip}/signup`);
  assert.equal(page.url(), `${nidan.base}/signup`);
  await signUp(page, nidan, email, password, { open: false });
  await page.click('text=Get started');
  await page.waitForURL('**/security/wizard');
  await page.check('input[value=passkey]');
  await page.click('main button[type=submit]');
  await page.waitForURL('**/security/passkeys/new?role=primary');
  await page.fill('#passkey-name', 'This laptop');
  await page.screenshot({ path: join(screenshots, 'passkey-add.png'), fullPage: true });
  await page.click('[data-passkey-register]');
  await landsOn(page, '**/security/wizard');
  assert.ok(await page.locator('text=Add a backup method').isVisible());
  await enrolApp(page, 'Phone app');
  await page.waitForURL('**/security/wizard');
  await page.click('main button[type=submit]');
  await page.waitForSelector('#backup-codes');
  const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId: platform });
  assert.equal(credentials.length, 1, 'the authenticator holds one credential for this site');
  assert.equal(credentials[0].rpId, 'localhost');

  // Sign out; sign in: the code page offers the passkey first.
  await page.goto(`${nidan.base}/account`);
  await page.click('header button:has-text("Sign out")');
  await page.waitForURL('**/signin');
  await signInWith(page, nidan.base, email, password);
  await page.waitForURL('**/signin/code');
  const useIt = page.locator('[data-passkey-signin]');
  assert.ok(await useIt.isVisible(), 'the code page offers the passkey');
  await page.screenshot({ path: join(screenshots, 'passkey-signin.png'), fullPage: true });
  await page.check('input[name=remember]');
  await useIt.click();
  await page.waitForURL('**/account');

  // Remembered: the next sign-in asks for the password only.
  await page.click('header button:has-text("Sign out")');
  await page.waitForURL('**/signin');
  await signInWith(page, nidan.base, email, password);
  await page.waitForURL('**/account');

  // Settings: add a security key (usb, no user verification), then remove it.
  await cdp.send('WebAuthn.setAutomaticPresenceSimulation', { authenticatorId: platform, enabled: false });
  await cdp.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId: platform });
  const usb = await authenticator(cdp, {
    protocol: 'ctap2', transport: 'usb', hasResidentKey: false, hasUserVerification: false,
  });
  await page.goto(`${nidan.base}/security`);
  await page.click('text=Add a passkey or security key');
  await page.waitForURL('**/security/passkeys/new');
  await page.fill('#passkey-name', 'YubiKey');
  await page.click('[data-passkey-register]');
  await page.waitForURL('**/security');
  assert.ok(await page.locator('text=YubiKey').first().isVisible(), 'the key is listed');
  const usbCreds = await cdp.send('WebAuthn.getCredentials', { authenticatorId: usb });
  assert.equal(usbCreds.credentials.length, 1);
  assert.ok(await page.locator('li:has-text("This laptop")').locator('text=last used').isVisible(), 'the passkey shows its last use');
  await page.screenshot({ path: join(screenshots, 'passkey-settings.png'), fullPage: true });
  // Remove the security key: it is gone from the list.
  await page.locator('li:has-text("YubiKey") button.danger').click();
  await page.waitForURL('**/security**');
  assert.equal(await page.locator('li:has-text("YubiKey")').count(), 0, 'the removed key is no longer listed');
  await context.close();
});

test('a copied key whose counter went back is refused and shown in the audit log', async () => {
  const context = await browser.newContext({ locale: 'en-US' });
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  // A fresh account whose key we can copy: credentials of a virtual
  // authenticator can be read out and put into another one.
  const first = await authenticator(cdp, {
    protocol: 'ctap2', transport: 'usb', hasResidentKey: false, hasUserVerification: false,
  });
  const other = 'taro@example.com';
  await signUp(page, nidan, other, password);
  await page.click('text=Get started');
  await page.waitForURL('**/security/wizard');
  await page.check('input[value=passkey]');
  await page.click('main button[type=submit]');
  await page.waitForURL('**/security/passkeys/new?role=primary');
  await page.click('[data-passkey-register]');
  await landsOn(page, '**/security/wizard');
  const appKey = await enrolApp(page, 'Phone app');
  await page.waitForURL('**/security/wizard');
  await page.click('main button[type=submit]');
  await page.waitForSelector('#backup-codes');
  const [copied] = (await cdp.send('WebAuthn.getCredentials', { authenticatorId: first })).credentials;

  // Sign in once with the key: its counter moves on.
  await page.goto(`${nidan.base}/account`);
  await page.click('header button:has-text("Sign out")');
  await signInWith(page, nidan.base, other, password);
  await page.waitForURL('**/signin/code');
  await page.click('[data-passkey-signin]');
  await page.waitForURL('**/account');

  // A copy of the key made before that sign-in: its counter is behind.
  await cdp.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId: first });
  const clone = await authenticator(cdp, {
    protocol: 'ctap2', transport: 'usb', hasResidentKey: false, hasUserVerification: false,
  });
  await cdp.send('WebAuthn.addCredential', { authenticatorId: clone, credential: { ...copied, signCount: 0 } });
  await page.click('header button:has-text("Sign out")');
  await signInWith(page, nidan.base, other, password);
  await page.waitForURL('**/signin/code');
  await page.click('[data-passkey-signin]');
  await page.waitForSelector('text=That passkey or security key was not accepted');
  assert.match(page.url(), /\/signin\/passkey$/);

  // Sign in with the app instead, and read the audit log.
  await page.fill('#code', totp(appKey, 1));
  await page.click('form[action="/signin/code"] button[type=submit]');
  await page.waitForURL('**/account');
  await page.goto(`${nidan.base}/security`);
  const log = await page.locator('main').textContent();
  assert.ok(log.includes('may have been copied'), `the audit log shows the refused copy:\n${log}`);
  await context.close();
});

test('with passwordless sign-in on, a discoverable passkey alone signs in from the email page', async () => {
  const own = await startNidan({ NIDAN_POLICY__BACKUP_RULE: 'any_other_method', NIDAN_POLICY__PASSWORDLESS: 'true' });
  try {
    const context = await browser.newContext({ locale: 'en-US', viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const cdp = await context.newCDPSession(page);
    const platform = await authenticator(cdp, {
      protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true,
    });
    await signUp(page, own, email, password);
    await page.click('text=Get started');
    await page.waitForURL('**/security/wizard');
    await page.check('input[value=passkey]');
    await page.click('main button[type=submit]');
    await page.waitForURL('**/security/passkeys/new?role=primary');
    await page.click('[data-passkey-register]');
    await landsOn(page, '**/security/wizard');
    await enrolApp(page, 'Phone app');
    await page.waitForURL('**/security/wizard');
    await page.click('main button[type=submit]');
    await page.waitForSelector('#backup-codes');
    const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId: platform });
    assert.equal(credentials[0].isResidentCredential, true, 'asked to be discoverable, the key is');

    await page.goto(`${own.base}/account`);
    await page.click('header button:has-text("Sign out")');
    await page.waitForURL('**/signin');
    await page.screenshot({ path: join(screenshots, 'passkey-passwordless.png'), fullPage: true });
    await page.click('[data-passkey-discover]');
    await landsOn(page, '**/account');
    await page.goto(`${own.base}/security`);
    assert.ok((await page.locator('main').textContent()).includes('without a password'), 'the audit log says how');
    await context.close();
  } finally {
    await own.stop();
  }
});
