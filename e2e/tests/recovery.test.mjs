// Identity-document recovery end to end (SPEC §6.2–§6.3, seed 003's last
// resort) in a real browser: someone with 2SV on loses every method,
// passes the password, uploads a document (after three uploads that are
// refused, each with its own message), an admin — made with `nidan admin
// create-admin` — sees it inline in the console and approves it, the
// approval email lands in the outbox, and the person signs in with the
// password alone and sets up 2SV again.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { enrolApp, launchChromium, screenshots, signIn, signUp, startNidan } from '../lib.mjs';

let nidan;
let browser;

before(async () => {
  mkdirSync(screenshots, { recursive: true });
  nidan = await startNidan({
    NIDAN_POLICY__BACKUP_RULE: 'any_other_method',
    NIDAN_DELIVERY__OUTBOX_PAGE: 'true',
  });
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await nidan?.stop();
});

const person = 'yuki@example.com';
const staff = 'support@example.com';
const password = 'yuki no hi ni';

const signUpAs = (page, email) => signUp(page, nidan, email, password);

async function upload(page, name, mimeType, buffer) {
  await page.goto(`${nidan.base}/signin/recover`);
  await page.selectOption('#kind', 'drivers_licence');
  await page.setInputFiles('#document', { name, mimeType, buffer });
  await page.click('main button[type=submit]');
  await page.waitForLoadState();
}

test('lose every method, send a document, get approved, sign in and set up 2SV again', async () => {
  const me = await browser.newContext({ locale: 'en-US', viewport: { width: 420, height: 900 } });
  const page = await me.newPage();
  await signUpAs(page, person);
  await page.click('text=Get started');
  await enrolApp(page, 'Phone app');
  await page.waitForURL('**/security/wizard');
  await enrolApp(page, 'Tablet app');
  await page.waitForURL('**/security/wizard');
  await page.click('main button[type=submit]');
  await page.waitForSelector('#backup-codes');
  await page.click('header button:has-text("Sign out")');

  // Phone and tablet lost, backup codes never printed: the code page's
  // last way out.
  await signIn(page, nidan.base, person, password);
  await page.waitForURL('**/signin/code');
  await page.click('summary');
  await page.click('text=Can\'t use any of these?');
  await page.waitForURL('**/signin/recover');
  assert.ok(await page.locator('text=JPEG, PNG or PDF, up to 10 MB').isVisible());

  // A ".png" that is really a program, a file over 10 MB, an empty file.
  await upload(page, 'licence.png', 'image/png', Buffer.concat([Buffer.from('MZ\x90\x00\x03'), Buffer.alloc(2048)]));
  assert.equal((await page.locator('.error').textContent()).trim(),
    "This file can't be used: it is a program. Send a JPEG, PNG or PDF.");
  await upload(page, 'huge.png', 'image/png', Buffer.alloc(11 * 1000 * 1000, 0x89));
  assert.equal((await page.locator('.error').textContent()).trim(),
    'The file is larger than 10 MB. Send a smaller photo or scan.');
  await upload(page, 'empty.png', 'image/png', Buffer.alloc(0));
  assert.equal((await page.locator('.error').textContent()).trim(),
    'The file is empty. Choose a photo or scan of your document.');

  // A real PNG: a screenshot of this very page stands in for the photo.
  const photo = await page.screenshot();
  await upload(page, 'licence.png', 'image/png', photo);
  assert.ok(await page.locator('text=We received your document').isVisible());
  assert.ok(await page.locator('text=Reviews usually take 1–2 days.').isVisible());
  await page.screenshot({ path: join(screenshots, 'recovery-sent.png'), fullPage: true });

  // Staff: an account made admin from the command line.
  const desk = await browser.newContext({ locale: 'en-US', viewport: { width: 1000, height: 900 } });
  const admin = await desk.newPage();
  await signUpAs(admin, staff);
  const said = nidan.admin('create-admin', staff);
  assert.match(said, /support@example\.com is now an admin/);
  await admin.goto(`${nidan.base}/admin`);
  await admin.click(`text=${person}`);
  await admin.waitForURL('**/admin/recovery/*');
  const image = admin.locator('img.document');
  await image.waitFor();
  const width = await image.evaluate((img) => img.complete && img.naturalWidth);
  assert.ok(width > 0, 'the document is shown inline');
  await admin.screenshot({ path: join(screenshots, 'admin-case.png'), fullPage: true });
  await admin.click('button:has-text("Approve")');
  await admin.waitForSelector('text=Approved. Two-step verification is off');
  assert.match(await admin.locator('#case-status').textContent(), /Approved by support@example\.com/);
  assert.ok(await admin.locator('text=The document was deleted after the decision.').isVisible());

  // The approval email, in the development outbox.
  await admin.goto(`${nidan.base}/dev/outbox`);
  const rows = await admin.locator('#outbox tr').evaluateAll((trs) => trs.map((tr) => [...tr.children].map((td) => td.textContent)));
  const mail = rows.find((cells) => cells[2] === person && cells[3].includes('recovery was approved'));
  assert.ok(mail, JSON.stringify(rows));
  assert.match(mail[3], /Sign in with your password and set up two-step verification again/);

  // The audit log shows who decided.
  await admin.goto(`${nidan.base}/admin/events?email=${person}&kind=recovery_approved`);
  assert.equal(await admin.locator('table.events tr').count(), 1);

  // The person signs in with the password alone and sets 2SV up again.
  await signIn(page, nidan.base, person, password);
  await page.waitForURL('**/account');
  await page.goto(`${nidan.base}/security`);
  await page.click('text=Get started');
  await enrolApp(page, 'New phone app');
  await page.waitForURL('**/security/wizard');
  assert.ok(await page.locator('text=Add a backup method').isVisible());
  await me.close();
  await desk.close();
});
