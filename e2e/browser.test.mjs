// ringd's pages in a real browser: Debian's Chromium, driven by
// playwright-core, against a real ringd this test starts on a free port
// with a data directory of its own. It writes a screenshot of every page
// to $RINGD_SCREENSHOTS, by default ringd-screenshots in the temporary
// directory, so a test run leaves the tree as it was; the README's copies
// are refreshed with RINGD_SCREENSHOTS=$PWD/../docs/screenshots npm test.
//
//   cd e2e && npm ci && npm test          (RINGD_BIN=path: use that binary)
//
// go test ./cmd/ringd runs it too (TestBrowser). With CI=true a missing
// Chromium fails it; elsewhere it is skipped with a message.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, readFileSync, mkdirSync, existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SHOTS = process.env.RINGD_SCREENSHOTS || join(tmpdir(), 'ringd-screenshots');
const ADMIN_TOKEN = 'browser-test-admin-token';
const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 800 };

const missing = existsSync(CHROMIUM) ? '' : `no Chromium at ${CHROMIUM}: apt-get install chromium (or set CHROMIUM)`;
if (missing && process.env.CI === 'true') throw new Error(missing);
const skip = missing ? `${missing}; skipped` : false;

let ringd;
let base;
let browser;
let work;
const pageErrors = [];

before(async () => {
  if (skip) return;
  work = mkdtempSync(join(tmpdir(), 'ringd-browser-'));
  let bin = process.env.RINGD_BIN;
  if (!bin) {
    bin = join(work, 'ringd');
    execFileSync('go', ['build', '-o', bin, './cmd/ringd'], { cwd: repo, stdio: 'inherit' });
  }
  ringd = spawn(bin, ['-listen', '127.0.0.1:0', '-data', join(work, 'data'), '-admin-token', ADMIN_TOKEN,
    '-ring-timeout', '4s'], { stdio: ['ignore', 'ignore', 'pipe'] });
  base = await new Promise((resolve, reject) => {
    let log = '';
    ringd.stderr.on('data', (b) => {
      log += b;
      const m = /msg="ringd serving" addr=(\S+)/.exec(log);
      if (m) resolve(`http://${m[1]}`);
    });
    ringd.on('exit', (code) => reject(new Error(`ringd exited (${code}):\n${log}`)));
  });
  const { chromium } = await import('playwright-core');
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run', '--disable-quic'],
  });
  mkdirSync(SHOTS, { recursive: true });
});

after(async () => {
  await browser?.close();
  ringd?.kill();
  if (work) rmSync(work, { recursive: true, force: true });
});

// open makes a browser context of the given size and opens path in it,
// collecting the page's errors (a script the policy blocks is one).
async function open(path, viewport) {
  const context = await browser.newContext({ viewport, acceptDownloads: true, locale: 'en-US' });
  const page = await context.newPage();
  page.on('pageerror', (err) => pageErrors.push(`${path}: ${err.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/Failed to fetch|aborted/i.test(m.text())) pageErrors.push(`${path}: ${m.text()}`);
  });
  await page.goto(base + path);
  return page;
}

// api POSTs a request to ringd directly, as another client would.
async function api(head) {
  const resp = await fetch(`${base}/`, { method: 'POST', body: JSON.stringify(head) });
  return resp.json();
}

async function shot(page, name) {
  await page.screenshot({ path: join(SHOTS, `${name}.png`) });
}

// registerIn registers a number through the welcome page and returns it.
async function registerIn(page, name) {
  await page.fill('#name', name);
  await page.click('#register');
  await page.waitForSelector('#chat:not([hidden])');
  const account = await page.evaluate(() => JSON.parse(localStorage.getItem('ringd.account')));
  assert.match(account.number, /^[1-9][0-9]{7}$/);
  assert.equal(await page.evaluate(() => localStorage.getItem('ringd.token').startsWith('web-')), true);
  return account.number;
}

async function openChat(page, number) {
  if (await page.isVisible('#back')) await page.click('#back'); // a phone shows one pane at a time
  await page.fill('#new-number', number);
  await page.click('#new-chat button');
  await page.waitForSelector('#thread:not([hidden])');
}

let alice, bob, aliceNumber, bobNumber;

test('two numbers talk: text, read marks, a file picked and one dropped', { skip }, async () => {
  alice = await open('/app/', PHONE);
  bob = await open('/app/', DESKTOP);
  await shot(alice, 'app-welcome-phone');
  aliceNumber = await registerIn(alice, 'Alice');
  bobNumber = await registerIn(bob, 'Bob');
  // Set in Bob's page before anything arrives: still there after, so
  // nothing reloaded it.
  await bob.evaluate(() => { window.notReloaded = true; });

  await openChat(alice, bobNumber);
  await alice.fill('#text', 'Hello Bob, this is Alice.');
  await alice.press('#text', 'Enter');
  await alice.waitForSelector('#messages li.mine[data-state="sent"], #messages li.mine[data-state="delivered"], #messages li.mine[data-state="read"]');

  // Bob's long-poll brings the conversation; opening it marks it read.
  await bob.click(`#conversations button[data-peer="${aliceNumber}"]`);
  await bob.waitForSelector('#messages li .body >> text=Hello Bob, this is Alice.');
  await alice.waitForSelector('#messages li.mine[data-state="read"]', { timeout: 15000 });

  // A file picked, with the progress bar shown while it goes.
  await alice.evaluate(() => {
    window.progressShown = false;
    new MutationObserver(() => { if (!document.getElementById('progress').hidden) window.progressShown = true; })
      .observe(document.getElementById('progress'), { attributes: true });
  });
  const data = randomBytes(3 << 20); // 3 MiB: past the arena, a file of its own
  await alice.setInputFiles('#file', { name: 'holiday.bin', mimeType: 'application/octet-stream', buffer: data });
  await alice.waitForSelector('#messages li.mine:has-text("holiday.bin") >> text=Download');
  assert.equal(await alice.evaluate(() => window.progressShown), true, 'the progress bar was never shown');

  const item = bob.locator('#messages li', { hasText: 'holiday.bin' });
  await item.waitFor();
  const [download] = await Promise.all([bob.waitForEvent('download'), item.locator('button').click()]);
  assert.equal(download.suggestedFilename(), 'holiday.bin');
  assert.ok(readFileSync(await download.path()).equals(data), 'the downloaded file differs from the one sent');

  // A file dropped on the conversation.
  const dropped = await alice.evaluateHandle(() => {
    const dt = new DataTransfer();
    dt.items.add(new File(['dropped\n'], 'dropped.txt', { type: 'text/plain' }));
    return dt;
  });
  await alice.dispatchEvent('#thread', 'drop', { dataTransfer: dropped });
  await bob.waitForSelector('#messages li:has-text("dropped.txt") >> text=Download');

  await bob.fill('#text', 'Got them, thanks!\nTwo lines.');
  await bob.press('#text', 'Enter');
  await alice.waitForSelector('#messages li .body >> text=Got them, thanks!');
  assert.equal(await bob.evaluate(() => window.notReloaded), true, 'the page reloaded');
  await shot(alice, 'app-chat-phone');
  await shot(bob, 'app-chat-desktop');

  // To a number nobody uses: refused, shown, and sent once it is in use.
  await openChat(alice, '7770001');
  await alice.fill('#text', 'Are you there yet?');
  await alice.press('#text', 'Enter');
  await alice.waitForSelector('#messages li.mine[data-state="failed"] >> text=Not sent: try again');
  assert.match(await alice.textContent('#status'), /That number is not in use\./);
  const late = await api({ req: 'register', number: '7770001' });
  await api({ req: 'login', appid: 'e2e.phone', build: '2.1', name: 'Late', locale: 'en', token: 'e2e-late-token', uuid: [late.uuid] });
  await alice.click('#messages li.mine[data-state="failed"] button');
  await alice.waitForSelector('#messages li.mine[data-state="sent"]');
  const got = await api({ req: 'get', uuid: [late.uuid] });
  assert.deepEqual(got.messages.map((m) => m.text), ['Are you there yet?']);
  await openChat(alice, bobNumber);
});

test('calls: answered and hung up, declined, and one that rings out is missed', { skip }, async () => {
  assert.ok(alice && bob, 'needs the numbers of the first test');
  // Answered, then hung up by the caller.
  await alice.click('#call');
  await alice.waitForSelector('#call-state[data-state="ringing"]');
  await bob.waitForSelector('#call-answer:visible', { timeout: 35000 });
  assert.match(await bob.textContent('#call-title'), /Alice/);
  await shot(bob, 'app-call-desktop');
  await bob.click('#call-answer');
  await alice.waitForSelector('#call-state[data-state="answered"]');
  await bob.waitForSelector('#call-state[data-state="answered"]');
  assert.match(await alice.textContent('#call-data'), /signaling only/, 'the callee\'s call data did not reach the caller');
  assert.match(await bob.textContent('#call-data'), /signaling only/, 'the caller\'s offer did not reach the callee');
  await shot(alice, 'app-call-phone');
  await alice.click('#call-hangup');
  for (const p of [alice, bob]) {
    await p.waitForSelector('#call-state[data-state="ended"]');
    assert.match(await p.textContent('#call-state'), /hung up/);
    await p.click('#call-close');
  }
  await alice.waitForSelector('#messages li.call-log:has-text("Outgoing call: hung up")');
  await bob.waitForSelector('#messages li.call-log:has-text("Incoming call: hung up")');

  // Declined by the callee.
  await alice.click('#call');
  await bob.waitForSelector('#call-decline:visible', { timeout: 35000 });
  await bob.click('#call-decline');
  await alice.waitForSelector('#call-state[data-state="ended"]');
  assert.match(await alice.textContent('#call-state'), /declined/);
  await alice.waitForSelector('#messages li.call-log:has-text("Outgoing call: declined")');
  for (const p of [alice, bob]) await p.click('#call-close');

  // Left to ring out (-ring-timeout 4s): a missed call for the callee.
  await alice.click('#call');
  await bob.waitForSelector('#call-answer:visible', { timeout: 35000 });
  await alice.waitForSelector('#call-state[data-state="ended"]', { timeout: 20000 });
  assert.match(await alice.textContent('#call-state'), /no answer/);
  await alice.waitForSelector('#messages li.call-log:has-text("Outgoing call: no answer")');
  await bob.waitForSelector('#missed-list li', { timeout: 35000 });
  assert.match(await bob.textContent('#missed-list li'), new RegExp(`Missed call from Alice \\(${aliceNumber}\\)`));
  await bob.waitForSelector('#messages li.missed-call');
  await bob.click('#call-close');
  await alice.click('#call-close');
  await shot(bob, 'app-missed-desktop');
});

test('a uuid entered in another browser brings the last day\'s messages', { skip }, async () => {
  assert.ok(bob, 'needs the numbers of the first test');
  const uuid = await bob.evaluate(() => JSON.parse(localStorage.getItem('ringd.account')).uuid);
  const other = await open('/app/', PHONE);
  await other.fill('#name', 'Bob');
  await other.click('#welcome summary');
  await other.fill('#uuid-in', uuid);
  await other.click('#login');
  await other.waitForSelector(`#conversations button[data-peer="${aliceNumber}"]`);
  assert.equal(await other.textContent('#me'), `Bob · ${bobNumber}`);
  await other.click(`#conversations button[data-peer="${aliceNumber}"]`);
  await other.waitForSelector('#messages li .body >> text=Hello Bob, this is Alice.');
  await other.waitForSelector('#messages li:has-text("holiday.bin") >> text=Download');
  await other.waitForSelector('#messages li.missed-call');
  await shot(other, 'app-history-phone');
  await other.context().close();
});

test('the console: a wrong token refused, stats, a chart, reserve, credit, lookup', { skip }, async () => {
  const page = await open('/console/', DESKTOP);
  await page.fill('#token', 'not the token');
  await page.click('#sign-in');
  await page.waitForSelector('#token-error:has-text("Wrong admin token.")');
  assert.equal(await page.isHidden('#dashboard'), true);

  await page.fill('#token', ADMIN_TOKEN);
  await page.click('#sign-in');
  await page.waitForSelector('#dashboard:not([hidden])');
  assert.equal(await page.evaluate(() => sessionStorage.getItem('ringd.admin')), ADMIN_TOKEN);
  assert.equal(await page.evaluate(() => JSON.stringify(localStorage).includes('browser-test-admin-token')), false);
  const numbers = Number(await page.textContent('[data-stat="numbers"] b'));
  assert.ok(numbers >= 2, `stats shows ${numbers} numbers`);
  await page.waitForSelector('#legend span:has-text("10000 OK")', { timeout: 15000 });

  await page.fill('#reserve-numbers', '5550001, 5550002');
  await page.click('#reserve-form button');
  await page.waitForSelector('#reserve-result:has-text("Reserved 2 numbers.")');
  assert.equal((await api({ req: 'register', number: '5550002' })).answer, 10003);

  await page.fill('#credit-number', aliceNumber);
  await page.fill('#credit-seconds', '600');
  await page.click('#credit-form button');
  await page.waitForSelector(`#credit-result:has-text("${aliceNumber} now has 600 seconds.")`);

  // Bob's browser is a device with appid web.
  await page.fill('#lookup-number', bobNumber);
  await page.click('#lookup-form button');
  await page.waitForSelector(`#lookup-result:has-text("${bobNumber}: registered, in use by web 1.0")`);

  // A phone that has not fetched a message from another: lookup lists it,
  // and shows neither its text nor a token.
  const sender = await api({ req: 'register' });
  const phone = await api({ req: 'register' });
  await api({ req: 'login', appid: 'e2e.sender', build: '1.0', name: 'Sender', locale: 'en', token: 'e2e-sender-token', uuid: [sender.uuid] });
  await api({ req: 'login', appid: 'e2e.phone', build: '2.1', name: 'Phone', locale: 'en', token: 'e2e-phone-token', uuid: [phone.uuid] });
  const body = Buffer.concat([Buffer.from(JSON.stringify({ req: 'send', uuid: sender.uuid, callee: phone.number, length: 12 })),
    Buffer.from([0]), Buffer.from('secret words')]);
  assert.equal((await (await fetch(`${base}/`, { method: 'POST', body })).json()).answer, 10000);
  await page.fill('#lookup-number', phone.number);
  await page.click('#lookup-form button');
  await page.waitForSelector(`#lookup-result:has-text("${phone.number}: registered, in use by e2e.phone 2.1")`);
  assert.match(await page.textContent('#lookup-result'), /Queued messages: 1\./);
  assert.equal(await page.textContent('#lookup-messages tbody tr td:nth-child(2)'), sender.number);
  assert.equal(await page.textContent('#lookup-messages tbody tr td:nth-child(4)'), '12');
  assert.doesNotMatch(await page.textContent('main'), /secret words|e2e-phone-token|e2e-sender-token/);
  await page.waitForTimeout(4500); // two more samples on the chart
  await shot(page, 'console-desktop');

  await page.setViewportSize(PHONE);
  await shot(page, 'console-phone');
  await page.click('#sign-out');
  await page.waitForSelector('#signin:not([hidden])');
  assert.equal(await page.evaluate(() => sessionStorage.getItem('ringd.admin')), null);
  await shot(page, 'console-signin-phone');
});

test('no page logged an error (a script or style the policy blocked is one)', { skip }, () => {
  assert.deepEqual(pageErrors, []);
});
