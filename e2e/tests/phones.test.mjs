// The phone journey of SPEC §3.1 and §4 in a real browser, codes read back
// from the development outbox: enable 2SV with a text-message primary and
// a voice-call backup on a landline, sign in with the texted code, use
// "Didn't receive the code?" to get a call, and hit the resend cap and see
// the message in plain words.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { codeIn, launchChromium, outbox, screenshots, signIn, signUp, startNidan } from '../lib.mjs';

let nidan;
let browser;

before(async () => {
  mkdirSync(screenshots, { recursive: true });
  nidan = await startNidan({
    NIDAN_DELIVERY__OUTBOX_PAGE: 'true',
    NIDAN_POLICY__RESEND_COOLDOWN_SECONDS: '1',
  });
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await nidan?.stop();
});

const email = 'taro@example.com';
const password = 'yama to kawa';
const wait = (ms) => new Promise((r) => setTimeout(r, ms));

test('text-message primary, voice backup, a call on request, and the resend cap', async () => {
  const context = await browser.newContext({ locale: 'en-US', viewport: { width: 420, height: 900 } });
  const page = await context.newPage();
  await signUp(page, nidan, email, password);
  await page.click('text=Get started');

  // Page 1: a 050 number can't get texts: told so, a call is suggested.
  await page.fill('#phone', '050-1234-5678');
  await page.check('input[value=sms]');
  await page.click('main button[type=submit]');
  assert.match(await page.locator('.error').textContent(), /can't receive text messages.*Voice call/);

  // A mobile by text.
  await page.fill('#phone', '090-1234-5678');
  await page.check('input[value=sms]');
  await page.click('main button[type=submit]');
  await page.waitForURL('**/security/wizard/phone/*');
  assert.ok(await page.locator('text=We texted a 6-digit code to •••-••••-5678').isVisible());
  await page.screenshot({ path: join(screenshots, 'phone-wizard-sms.png'), fullPage: true });
  let message = await outbox(context, nidan.base, '+819012345678');
  assert.equal(message.channel, 'sms');
  assert.match(message.body, /is your nidan security code\. Don't share it\.\s+@localhost #\d{6}$/);
  await page.fill('#code', codeIn(message.body));
  await page.click('main form button[type=submit]');
  await page.waitForURL('**/security/wizard');

  // Page 2: the backup, a landline by voice call.
  await wait(1100);
  await page.fill('#phone', '03-9876-5432');
  await page.check('input[value=voice]');
  await page.click('main button[type=submit]');
  await page.waitForURL('**/security/wizard/phone/*');
  assert.ok(await page.locator("text=We're calling •••-••••-5432 now").isVisible());
  message = await outbox(context, nidan.base, '+81398765432');
  assert.equal(message.channel, 'voice');
  await page.fill('#code', codeIn(message.body));
  await page.click('main form button[type=submit]');
  await page.waitForURL('**/security/wizard');
  await page.click('main button[type=submit]:has-text("Turn on two-step verification")');
  await page.waitForSelector('#backup-codes');

  // Sign in: the text is sent as the code page opens.
  await page.goto(`${nidan.base}/account`);
  await page.click('header button:has-text("Sign out")');
  await wait(1100);
  await signIn(page, nidan.base, email, password);
  await page.waitForURL('**/signin/code');
  assert.ok(await page.locator('text=We texted a code to the number ending in 78').isVisible());
  message = await outbox(context, nidan.base, '+819012345678');
  await page.fill('#code', codeIn(message.body));
  await page.click('main form button[type=submit]');
  await page.waitForURL('**/account');

  // Sign in again; the text "never arrives": ask for a call instead.
  await page.click('header button:has-text("Sign out")');
  await wait(1100);
  await signIn(page, nidan.base, email, password);
  await page.waitForURL('**/signin/code');
  await wait(1100);
  await page.click('summary');
  await page.screenshot({ path: join(screenshots, 'code-page-phones.png'), fullPage: true });
  await page.click('button:has-text("Call the number ending in 32")');
  assert.ok(await page.locator("text=We're calling the number ending in 32").isVisible());
  const call = await outbox(context, nidan.base, '+81398765432');
  assert.equal(call.channel, 'voice');
  const spoken = codeIn(call.body);

  // Ask again and again: five sends per 15 minutes, then the cap, in plain words.
  let capped = false;
  for (let i = 0; i < 6 && !capped; i++) {
    await wait(1100);
    await page.click('summary').catch(() => {});
    await page.click('button:has-text("Text the number ending in 78")');
    const error = page.locator('.error');
    if (await error.count()) {
      assert.match(await error.textContent(), /Too many codes were sent\. Try again in \d+ (minutes|seconds), or use another way/);
      capped = true;
    }
  }
  assert.ok(capped, 'the cap was reached');
  await page.screenshot({ path: join(screenshots, 'code-page-cap.png'), fullPage: true });

  // Codes already sent still work (the three newest of the attempt): the
  // newest texted one signs in. (Not the spoken one: when the run crosses
  // a 15-minute cap window, more texts go out after the call and push it
  // out of the three.)
  const newest = codeIn((await outbox(context, nidan.base, '+819012345678')).body);
  assert.match(spoken, /^\d{6}$/);
  await page.fill('#code', newest);
  await page.click('main form button[type=submit]');
  await page.waitForURL('**/account');
  await context.close();
});
