// Helpers for the browser tests: start a real `nidan serve` on a free
// loopback port with a fresh data directory, launch Debian's Chromium, and
// compute TOTP codes (RFC 6238, SHA-1, 6 digits, 30 s) from a key read off
// the page, as a person's authenticator app would.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
export const screenshots = join(here, 'screenshots');

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

export { freePort };

/** Starts `nidan serve`; `extraArgs` go after `serve` (e.g. `--config FILE`). */
export async function startNidan(extraEnv = {}, extraArgs = []) {
  const bin = process.env.NIDAN_BIN ?? join(here, '..', 'target', 'debug', 'nidan');
  const dataDir = mkdtempSync(join(tmpdir(), 'nidan-e2e-'));
  const port = await freePort();
  const child = spawn(bin, ['serve', ...extraArgs, '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NIDAN_LOG: 'warn', ...extraEnv },
  });
  let output = '';
  child.stdout.on('data', (d) => { output += d; });
  child.stderr.on('data', (d) => { output += d; });
  // The browser visits `localhost`, the address nidan tells people to
  // open with no public_url (a passkey needs a host name, not an IP).
  const ip = `http://127.0.0.1:${port}`;
  const base = `http://localhost:${port}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      const res = await fetch(`${ip}/readyz`);
      if (res.ok) break;
    } catch { /* not up yet */ }
    if (Date.now() > deadline || child.exitCode !== null) {
      child.kill();
      throw new Error(`nidan did not start:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    base,
    ip,
    /** Runs `nidan admin ARGS...` on this server's data; its stdout. */
    admin(...args) {
      const run = spawnSync(bin, ['admin', ...args, '--data-dir', dataDir], {
        env: { ...process.env, NIDAN_LOG: 'warn', ...extraEnv },
        encoding: 'utf8',
      });
      if (run.status !== 0) throw new Error(`nidan admin ${args.join(' ')} failed:\n${run.stderr}`);
      return run.stdout;
    },
    /** The sign-up link last emailed to `email`, read with `nidan outbox` as an operator would. */
    signUpLink(email) {
      const config = extraArgs[0] === '--config' ? extraArgs.slice(0, 2) : [];
      const run = spawnSync(bin, ['outbox', ...config, '--data-dir', dataDir, '--to', email, '--limit', '1'], {
        env: { ...process.env, NIDAN_LOG: 'warn', ...extraEnv },
        encoding: 'utf8',
      });
      if (run.status !== 0) throw new Error(`nidan outbox failed:\n${run.stderr}`);
      const link = run.stdout.match(/https?:\/\/\S+\/signup\/confirm\/[A-Za-z0-9_-]+/);
      if (!link) throw new Error(`no sign-up link to ${email} in the outbox:\n${run.stdout}`);
      return link[0];
    },
    async stop() {
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode !== null ? r() : child.once('exit', r)));
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export async function launchChromium(extraArgs = []) {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      ...extraArgs,
    ],
  });
}

/**
 * Debian's nginx on loopback `port` with the forward-authentication test
 * site (crates/server/tests/nginx.conf.in, using deploy/nginx's snippets)
 * in front of `nidanBase`.
 */
export async function startNginx(port, nidanBase) {
  const dir = mkdtempSync(join(tmpdir(), 'nidan-nginx-'));
  const root = join(here, '..');
  const conf = readFileSync(join(root, 'crates/server/tests/nginx.conf.in'), 'utf8')
    .replaceAll('@DIR@', dir)
    .replaceAll('@NIDAN@', nidanBase.replace('http://', ''))
    .replaceAll('@APP_PORT@', String(await freePort()))
    .replaceAll('@PORT@', String(port))
    .replaceAll('@AUTHZ@', join(root, 'deploy/nginx/nidan-authz.conf'))
    .replaceAll('@PROTECT@', join(root, 'deploy/nginx/nidan-protect.conf'));
  writeFileSync(join(dir, 'nginx.conf'), conf);
  const child = spawn('/usr/sbin/nginx', ['-e', 'stderr', '-p', dir, '-c', join(dir, 'nginx.conf')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let output = '';
  child.stderr.on('data', (d) => { output += d; });
  // Started when nidan's /healthz answers through it (not merely when
  // something accepts connections on the port).
  const healthy = () => new Promise((resolve) => {
    const req = httpGet({ host: '127.0.0.1', port, path: '/healthz', headers: { host: `auth.nidan.test:${port}` } }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve(res.statusCode === 200 && body === 'ok'));
    });
    req.on('error', () => resolve(false));
  });
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (await healthy()) break;
    if (Date.now() > deadline || child.exitCode !== null) {
      child.kill();
      throw new Error(`nginx did not start:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    async stop() {
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode !== null ? r() : child.once('exit', r)));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function base32Decode(text) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const clean = text.toUpperCase().replace(/[^A-Z2-7]/g, '');
  let bits = 0;
  let value = 0;
  const out = [];
  for (const ch of clean) {
    value = (value << 5) | alphabet.indexOf(ch);
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

/** The TOTP code of `key` (Base32, spaces allowed) for the step `stepsAhead` after now. */
export function totp(key, stepsAhead = 0) {
  const step = Math.floor(Date.now() / 1000 / 30) + stepsAhead;
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = createHmac('sha1', base32Decode(key)).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const bin = ((mac[offset] & 0x7f) << 24) | (mac[offset + 1] << 16) | (mac[offset + 2] << 8) | mac[offset + 3];
  return String(bin % 1_000_000).padStart(6, '0');
}

/** The newest outbox message to `recipient` (E.164), read off /dev/outbox. */
export async function outbox(context, base, recipient) {
  const page = await context.newPage();
  await page.goto(`${base}/dev/outbox`);
  const rows = await page.locator('#outbox tr').evaluateAll((trs) => trs.map((tr) => [...tr.children].map((td) => td.textContent)));
  await page.close();
  const row = rows.find((cells) => cells[2] === recipient);
  if (!row) throw new Error(`no outbox message to ${recipient}: ${JSON.stringify(rows)}`);
  return { channel: row[1], body: row[3] };
}

/** The 6-digit code in a texted or spoken message. */
export function codeIn(body) {
  const texted = body.match(/\b(\d{6})\b/);
  if (texted) return texted[1];
  // Voice: "[ja-JP] … 1 … 2 … 3 … 4 … 5 … 6 / …": the first reading.
  const first = body.split(' / ')[0];
  const digits = first.replace(/^\[[^\]]*\]/, '').match(/\d/g);
  return digits.slice(-6).join('');
}

/**
 * Signs up as a person does: the form (opened at `/signup` unless `open`
 * is false, when the page is already on it), "Check your email", the
 * emailed link, "Create my account"; ends on Advanced Security Settings.
 */
export async function signUp(page, nidan, email, password, { open = true } = {}) {
  if (open) await page.goto(`${nidan.base}/signup`);
  await page.fill('#email', email);
  await page.fill('#password', password);
  await page.click('main button[type=submit]');
  await page.waitForSelector('text=Check your email');
  await page.goto(nidan.signUpLink(email));
  await page.click('#signup-confirm');
  await page.waitForURL('**/security');
}

/** The two-page sign-in: email, then password. */
export async function signIn(page, base, email, password) {
  await page.goto(`${base}/signin`);
  await page.fill('#email', email);
  await page.click('main button[type=submit]');
  await page.waitForURL('**/signin/password');
  await page.fill('#password', password);
  await page.click('main button[type=submit]');
}

/**
 * On the wizard's first or second page: enrols an authenticator app named
 * `name`, reading the key from "Can't scan the QR code?" as a person would
 * type it into an app; saves a screenshot if `shot` is given. The key.
 */
export async function enrolApp(page, name, shot) {
  await page.check('input[value=app]');
  await page.fill('#name', name);
  await page.click('main button[type=submit]');
  await page.waitForURL('**/security/wizard/app/*');
  assert.ok(await page.locator('.qr svg').isVisible(), 'the QR code is shown');
  await page.click('summary');
  const key = (await page.locator('#secret').textContent()).trim();
  assert.match(key, /^([A-Z2-7]{4} )+[A-Z2-7]{1,4}$/);
  if (shot) await page.screenshot({ path: join(screenshots, shot), fullPage: true });
  await page.fill('#code', totp(key));
  await page.click('main form button[type=submit]');
  return key;
}
