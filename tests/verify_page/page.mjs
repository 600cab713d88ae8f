// The front desk's card check (src/verify_page) in a real browser: Debian's
// Chromium (/usr/bin/chromium) driven by playwright-core, as
// tests/console/console.mjs drives the console.
//
// A tiny node:http server (serve.mjs) stands in for the vault: the page under
// /verify/, fixture issuer keys at /.well-known/jwt-vc-issuer and status list
// 0 at /v1/status-lists/0 (make_seal.mjs), every answer under the console's
// CSP. The story: the page opens and fetches keys and list 0; the clerk's
// desk scanner types seal after seal into the field (+ Enter) and the page
// says Valid, Not genuine, Expired, Revoked, Cannot check status as it
// should, with the printed fields for genuine seals only; "Refresh now"
// fetches again; at 320 px nothing overflows; then the network is cut, the
// page reloads from its service worker and still says Valid and Revoked
// from the cached keys and list, and warns when they are old. Throughout,
// every request is recorded: none is made while scanning, none carries
// anything of a seal, none goes anywhere but the page's own files, the keys
// and the lists. axe-core (if tests/console has it) finds no serious or
// critical violation; no CSP violation, no page error.
//
// Run: node tests/verify_page/page.mjs   (needs /usr/bin/chromium and
// `npm ci` in tests/console; no cargo, no vault).
// Env: CHROMIUM (default /usr/bin/chromium), VERIFY_SCREENSHOTS=dir to keep
// screenshots, VERIFY_HEADED=1.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { makeFixtures } from './make_seal.mjs';
import { CHROMIUM_ARGS, consoleModules, startServer } from './serve.mjs';

const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const SHOTS = process.env.VERIFY_SCREENSHOTS ?? null;
const TIMEOUT_MS = Number(process.env.VERIFY_TIMEOUT_MS ?? 180_000);

// ---------------------------------------------------------------- logging

const started = Date.now();
let passed = 0;
let stepNo = 0;
let currentStep = '(setup)';
class Failure extends Error {}
function step(title) {
  stepNo += 1;
  currentStep = `${stepNo}. ${title}`;
  console.log(`\n== ${currentStep}`);
}
function log(...args) {
  console.log(`[${((Date.now() - started) / 1000).toFixed(1).padStart(6)}s]`, ...args);
}
function expect(cond, message) {
  if (!cond) throw new Failure(message);
  passed += 1;
  log(`ok: ${message}`);
}
const short = (s, n = 300) => {
  const t = String(s ?? '').replace(/\s+/g, ' ').trim();
  return t.length > n ? `${t.slice(0, n)}…` : t;
};

// ---------------------------------------------------------------- the run

let fixtures = null;
const server = await startServer({ fixtures: () => fixtures });
fixtures = makeFixtures({ issuer: server.origin });
const ORIGIN = server.origin;
const { chromium, axeSource } = await consoleModules();

let browser;
const problems = [];
const requests = []; // every request the browser made: { url, method, postData, headers, phase }
let phase = 'load';

const a11yFailures = [];
let a11yChecked = 0;
async function a11y(page, name) {
  if (!axeSource) return;
  if (!(await page.evaluate(() => typeof window.axe !== 'undefined'))) await page.evaluate(axeSource);
  const result = await page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.map((n) => n.target.join(' ')).slice(0, 5) }));
  });
  a11yChecked += 1;
  for (const v of result) {
    const line = `${name}: ${v.id} [${v.impact}] ${v.help} — ${v.targets.join(', ')}`;
    if (v.impact === 'serious' || v.impact === 'critical') a11yFailures.push(line);
    else log(`  a11y (${v.impact}): ${line}`);
  }
  log(`axe: ${name}: ${result.length} violation(s)`);
}

async function shot(page, name) {
  if (!SHOTS) return;
  fs.mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, name), fullPage: true });
}

function watch(context, page, who) {
  page.on('pageerror', (e) => problems.push(`${who}: page error: ${e.message}`));
  page.on('console', (m) => {
    const text = m.text();
    if (m.type() === 'error' || m.type() === 'warning') log(`  [${who} console.${m.type()}] ${short(text)}`);
    if (/Content[- ]Security[- ]Policy|Refused to/i.test(text)) problems.push(`${who}: CSP: ${text}`);
  });
}

/** Types a seal into the desk scanner's field and presses Enter, as a
    keyboard-wedge scanner does; waits for the verdict. */
async function scan(page, text) {
  const before = await page.locator('#result').getAttribute('data-scan');
  const field = page.getByLabel('Desk scanner');
  await field.fill(text);
  await field.press('Enter');
  await page.waitForFunction(
    (b) => {
      const r = document.getElementById('result');
      return r.dataset.scan !== b && r.dataset.state === 'done';
    },
    before,
    { timeout: 15_000 },
  );
  return page.evaluate(() => {
    const fields = {};
    for (const dd of document.querySelectorAll('#fields dd')) fields[dd.dataset.field] = dd.textContent;
    return {
      verdict: document.getElementById('verdict').textContent,
      reason: document.getElementById('reason').textContent,
      fieldsShown: !document.getElementById('fields-box').hidden,
      fields,
      resultText: document.getElementById('result').innerText,
      fieldValue: document.getElementById('seal').value,
    };
  });
}

async function main() {
  if (!fs.existsSync(CHROMIUM)) throw new Failure(`${CHROMIUM} is missing`);
  const { seals, cards } = fixtures;

  step('open /verify/: the page fetches the keys and status list 0, and its service worker takes over');
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: !process.env.VERIFY_HEADED,
    chromiumSandbox: false,
    args: CHROMIUM_ARGS,
  });
  log(`chromium ${browser.version()}, fixture server ${ORIGIN}`);
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'en-US' });
  context.setDefaultTimeout(15_000);
  context.on('request', (r) => {
    requests.push({
      url: r.url(),
      method: r.method(),
      postData: r.postData() ?? '',
      headers: r.headers(),
      phase,
      fromWorker: Boolean(r.serviceWorker()),
    });
  });
  const page = await context.newPage();
  watch(context, page, 'clerk');
  const first = await page.goto(`${ORIGIN}/verify/`);
  expect(first?.status() === 200, `GET /verify/ → 200 (got ${first?.status()})`);
  expect(
    (first?.headers()['content-security-policy'] ?? '').includes("script-src 'self'"),
    'the page is served under the console CSP',
  );
  await page.waitForFunction(() => document.documentElement.dataset.refreshed === 'true');
  expect((await page.title()).includes('Check a card'), `the title says what the page is (${await page.title()})`);
  expect((await page.locator('html').getAttribute('lang')) === 'en', 'the page is lang="en"');
  const age = await page.locator('#age').innerText();
  expect(/^Keys and status lists fetched less than a minute ago/.test(age), `the freshness line (${age})`);
  expect(await page.locator('#stale').isHidden(), 'no staleness warning right after fetching');
  expect(await page.getByRole('button', { name: 'Refresh now' }).isVisible(), 'a "Refresh now" button');
  expect(await page.getByRole('button', { name: 'Scan a card' }).isVisible(), 'a big "Scan a card" button');
  const result = page.locator('#result');
  expect(
    (await result.getAttribute('role')) === 'status' && (await result.getAttribute('aria-live')) === 'polite',
    'the result is a live region (role=status, aria-live=polite)',
  );
  expect(
    await page.evaluate(() => document.activeElement?.id === 'seal'),
    'the desk scanner field has the focus, ready for a scan',
  );
  const controlled = await page.evaluate(async () => {
    const reg = await navigator.serviceWorker.ready;
    for (let i = 0; i < 50 && !navigator.serviceWorker.controller; i += 1) await new Promise((r) => setTimeout(r, 100));
    return { scope: reg.scope, controlled: Boolean(navigator.serviceWorker.controller) };
  });
  expect(controlled.scope === `${ORIGIN}/verify/` && controlled.controlled, `the service worker controls the page, scope ${controlled.scope}`);
  const loaded = requests.map((r) => new URL(r.url).pathname);
  expect(loaded.includes('/.well-known/jwt-vc-issuer') && loaded.includes('/v1/status-lists/0'), 'it fetched the keys and list 0');
  await a11y(page, 'idle');
  await shot(page, 'verify-idle.png');

  step('the desk scanner types each seal and Enter: the verdicts, and the printed fields of genuine seals');
  phase = 'scanning';
  const seen = [];
  const verdictOf = async (name) => {
    const r = await scan(page, seals[name].text);
    seen.push(r);
    expect(r.verdict === seals[name].expect, `${name}: "${r.verdict}" (${short(r.reason, 160)})`);
    expect(r.fieldValue === '', `${name}: the field is emptied after the scan`);
    return r;
  };
  let r = await verdictOf('valid');
  const v = cards.valid;
  expect(r.fields.name === v.name, `valid: the printed name shows (${r.fields.name})`);
  expect(
    r.fields.program === v.program && r.fields.number === v.number && r.fields.birth_date === v.birth_date &&
      r.fields.issued === v.issued && r.fields.expires === v.expires && r.fields.address === v.address,
    'valid: program, number, birth date, issued, expires and address show as sealed',
  );
  expect(/Valid/.test(await page.getByRole('status').first().innerText()), 'the verdict is inside the live region');
  await a11y(page, 'valid');
  await shot(page, 'verify-valid.png');

  r = await verdictOf('badSignature');
  expect(!r.fieldsShown && !r.resultText.includes(v.name), 'bad signature: no field of the forged seal is shown');
  expect(/signature/.test(r.reason), 'bad signature: the reason says the signature does not match');
  await a11y(page, 'not-genuine');
  await shot(page, 'verify-not-genuine.png');

  r = await verdictOf('expired');
  expect(r.fields.name === cards.expired.name, `expired: the printed name shows (${r.fields.name})`);
  await shot(page, 'verify-expired.png');

  r = await verdictOf('revoked');
  expect(r.fields.name === cards.revoked.name, `revoked: the printed name shows (${r.fields.name})`);
  await a11y(page, 'revoked');
  await shot(page, 'verify-revoked.png');

  r = await verdictOf('noExpiry');
  expect(r.fields.name === cards.noExpiry.name, 'a card that does not expire (no exp in its seal) is Valid');
  r = await verdictOf('noAddress');
  expect(r.fields.name === cards.noAddress.name && !('address' in r.fields), `a card without address: name (${r.fields.name}), no Address line`);

  r = await verdictOf('unknownKey');
  expect(!r.fieldsShown && /key/.test(r.reason), 'a seal signed by a key the issuer does not publish: Not genuine, no fields');
  r = await verdictOf('wrongIssuer');
  expect(!r.fieldsShown && /issued by/.test(r.reason), 'a genuine signature but another iss: Not genuine');
  r = await verdictOf('malformed');
  expect(!r.fieldsShown, 'a damaged seal text: Not genuine');
  r = await scan(page, 'HTTPS://EXAMPLE.COM/NOT-A-SEAL');
  expect(r.verdict === 'Not genuine' && /not a card seal/.test(r.reason), `some other QR text: Not genuine (${r.reason})`);
  r = await verdictOf('foreignList');
  expect(/not at this page/.test(r.reason) && r.fields.name === v.name, 'a status list of another origin is refused: Cannot check status');
  // Typed in lower case (a wedge scanner with caps lock): still read.
  r = await scan(page, seals.valid.text.toLowerCase());
  expect(r.verdict === 'Valid', `the same seal typed in lower case still reads (${r.verdict})`);
  const during = requests.filter((q) => q.phase === 'scanning');
  expect(during.length === 0, `no request at all while scanning (${during.map((q) => q.url).join(', ') || 'none'})`);

  step('"Refresh now" fetches the keys and status lists again');
  phase = 'refresh';
  const nBefore = requests.length;
  await page.getByRole('button', { name: 'Refresh now' }).click();
  await page.waitForFunction(() => !document.getElementById('refresh').disabled);
  const refreshed = requests.slice(nBefore).map((q) => new URL(q.url).pathname);
  expect(
    refreshed.includes('/.well-known/jwt-vc-issuer') && refreshed.includes('/v1/status-lists/0'),
    `refresh fetched the keys and list 0 (${refreshed.join(', ')})`,
  );
  expect((await page.locator('#refresh-msg').innerText()) === '', 'and reported no problem');

  step('a list never fetched: Cannot check status (list 1 is not published; list 2 is signed by a stranger)');
  phase = 'other lists';
  r = await verdictOf('list1');
  expect(/never been fetched/.test(r.reason), `list 1 (404): ${short(r.reason)}`);
  r = await verdictOf('list2');
  expect(/never been fetched/.test(r.reason), 'list 2 (bad signature) is not used');
  const listReqs = requests.filter((q) => q.phase === 'other lists').map((q) => new URL(q.url).pathname);
  expect(
    listReqs.length === 2 && listReqs.includes('/v1/status-lists/1') && listReqs.includes('/v1/status-lists/2'),
    `the only requests: the two lists the seals name (${listReqs.join(', ')})`,
  );

  step('at 320 px wide nothing overflows');
  phase = 'narrow';
  await page.setViewportSize({ width: 320, height: 720 });
  r = await verdictOf('valid');
  const widths = await page.evaluate(() => ({ page: document.documentElement.scrollWidth, body: document.body.scrollWidth }));
  expect(widths.page <= 320 && widths.body <= 320, `the page fits 320 px (scrollWidth ${widths.page})`);
  const bigButton = await page.getByRole('button', { name: 'Scan a card' }).boundingBox();
  expect(bigButton && bigButton.x >= 0 && bigButton.x + bigButton.width <= 320, 'the Scan button fits');
  await a11y(page, 'valid-320px');
  await shot(page, 'verify-320.png');
  await page.setViewportSize({ width: 1280, height: 900 });
  // Keyboard focus is visible (the console's 3 px outline).
  await page.getByRole('button', { name: 'Refresh now' }).focus();
  await page.keyboard.press('Shift+Tab');
  await page.keyboard.press('Tab');
  const outline = await page.evaluate(() => {
    const s = getComputedStyle(document.activeElement);
    return { id: document.activeElement.id, style: s.outlineStyle, width: s.outlineWidth };
  });
  expect(outline.style === 'solid' && outline.width === '3px', `the focused control shows a 3 px outline (${JSON.stringify(outline)})`);

  step('what the device keeps: keys, lists and times in localStorage; nothing of any card anywhere');
  const kept = await page.evaluate(async () => {
    const out = { local: {}, session: sessionStorage.length, cookies: document.cookie, caches: {} };
    for (let i = 0; i < localStorage.length; i += 1) out.local[localStorage.key(i)] = localStorage.getItem(localStorage.key(i));
    for (const name of await caches.keys()) {
      const c = await caches.open(name);
      out.caches[name] = (await c.keys()).map((q) => new URL(q.url).pathname);
    }
    return out;
  });
  const keys = Object.keys(kept.local);
  expect(keys.length === 1 && keys[0] === 'civic-vault.verify.v1', `one localStorage entry (${keys.join(', ')})`);
  const storedText = JSON.stringify(kept);
  const stored = JSON.parse(kept.local['civic-vault.verify.v1']);
  expect(
    Object.keys(stored).sort().join(',') === 'jwks,keysFetchedAt,lists,v' &&
      Object.keys(stored.lists).join(',') === `${ORIGIN}/v1/status-lists/0`,
    `it holds the JWKS, its time and list 0 only (${Object.keys(stored.lists).join(', ')})`,
  );
  expect(kept.session === 0 && kept.cookies === '', 'no sessionStorage, no cookie');
  const cached = Object.values(kept.caches).flat().sort();
  expect(
    cached.join(',') === ['/verify/', '/verify/jsqr.js', '/verify/verify.css', '/verify/verify.js'].sort().join(','),
    `the service worker's cache holds the page's four files only (${cached.join(', ')})`,
  );
  const secrets = [];
  for (const s of Object.values(seals)) secrets.push(s.text.slice(4, 28), s.text.slice(-24));
  for (const c of Object.values(cards)) secrets.push(c.name, c.number, encodeURIComponent(c.name));
  expect(!secrets.some((s) => storedText.includes(s)), 'no seal text, name or card number in storage or caches');

  step('the network is cut: the page reloads from its service worker and still checks cards');
  phase = 'offline';
  await context.setOffline(true);
  const again = await page.reload();
  expect(again?.fromServiceWorker() === true, 'the reload was answered by the service worker');
  await page.waitForFunction(() => document.documentElement.dataset.refreshed === 'true');
  expect(await page.evaluate(() => navigator.onLine === false), 'the browser is offline');
  const offlineAge = await page.locator('#age').innerText();
  expect(/^Keys and status lists fetched less than a minute ago/.test(offlineAge), `the cached keys and list, with their age (${offlineAge})`);
  r = await verdictOf('valid');
  expect(r.fields.name === v.name, 'offline: the valid seal is Valid, its name shows');
  r = await verdictOf('revoked');
  expect(r.fields.name === cards.revoked.name, 'offline: the revoked seal is Revoked from the cached list');
  r = await verdictOf('badSignature');
  await shot(page, 'verify-offline.png');

  step('offline and old: the page warns when the list is past its own exp, and when all is over 24 hours old');
  for (const [hours, wants] of [[2, ['past its own expiry']], [25, ['more than 24 hours', 'past its own expiry']]]) {
    const later = await context.newPage();
    watch(context, later, `clerk+${hours}h`);
    await later.clock.install({ time: new Date(Date.now() + hours * 3600_000) });
    const resp = await later.goto(`${ORIGIN}/verify/`);
    expect(resp?.fromServiceWorker() === true, `+${hours} h: the page opens from the service worker`);
    await later.waitForFunction(() => document.documentElement.dataset.refreshed === 'true');
    const warning = await later.locator('#stale').innerText();
    expect(!(await later.locator('#stale').isHidden()), `+${hours} h: a warning shows (${short(warning, 240)})`);
    for (const w of wants) expect(warning.includes(w), `+${hours} h: it says "${w}"`);
    if (hours === 2) expect(!warning.includes('more than 24 hours'), '+2 h: not yet the 24-hour warning');
    const rr = await scan(later, seals.valid.text);
    expect(rr.verdict === 'Valid', `+${hours} h: the valid card still checks Valid from the cached list`);
    await a11y(later, `stale-${hours}h`);
    await shot(later, `verify-stale-${hours}h.png`);
    await later.close();
  }
  await context.setOffline(false);

  step('without JavaScript, Enter in the scanner field sends nothing of the seal');
  phase = 'no-js';
  const plain = await browser.newContext({ javaScriptEnabled: false, viewport: { width: 1280, height: 900 } });
  plain.on('request', (q) => {
    requests.push({ url: q.url(), method: q.method(), postData: q.postData() ?? '', headers: q.headers(), phase });
  });
  const bare = await plain.newPage();
  await bare.goto(`${ORIGIN}/verify/`);
  expect((await bare.locator('#seal').getAttribute('name')) === null, 'the scanner field has no name: a form submission carries no value');
  await bare.locator('#seal').fill(seals.valid.text);
  await Promise.all([bare.waitForNavigation(), bare.locator('#seal').press('Enter')]);
  expect(!bare.url().includes('CV1') && new URL(bare.url()).search === '', `the submitted form went to ${bare.url()}`);
  await plain.close();

  step('every request: same origin, GET, the page\'s files, the keys and the lists only, nothing of a seal');
  const allowed = new Set([
    '/verify/', '/verify/verify.js', '/verify/verify.css', '/verify/jsqr.js', '/verify/sw.js',
    '/.well-known/jwt-vc-issuer', '/v1/status-lists/0',
  ]);
  const bad = [];
  for (const q of requests) {
    const u = new URL(q.url);
    const okPath = allowed.has(u.pathname) || (q.phase === 'other lists' && /^\/v1\/status-lists\/[12]$/.test(u.pathname));
    if (u.origin !== ORIGIN || !okPath || u.search || q.method !== 'GET' || q.postData) bad.push(`${q.method} ${q.url} (${q.phase})`);
    const all = `${q.url} ${q.postData} ${JSON.stringify(q.headers)}`;
    if (secrets.some((s) => all.includes(s))) bad.push(`${q.url} carries seal content`);
  }
  expect(bad.length === 0, `${requests.length} browser requests, all allowed${bad.length ? `:\n  ${bad.join('\n  ')}` : ''}`);
  const serverBad = server.requests.filter((q) => {
    const u = new URL(q.url, ORIGIN);
    return !(allowed.has(u.pathname) || /^\/v1\/status-lists\/[12]$/.test(u.pathname)) || u.search || q.body || secrets.some((s) => q.url.includes(s));
  });
  expect(serverBad.length === 0, `${server.requests.length} requests reached the server, all allowed${serverBad.length ? `: ${serverBad.map((q) => q.url).join(', ')}` : ''}`);

  step('no CSP violation, no page error; axe-core');
  expect(problems.length === 0, `no CSP violations or page errors${problems.length ? `:\n  ${problems.join('\n  ')}` : ''}`);
  if (axeSource) {
    expect(a11yChecked >= 6, `axe-core checked ${a11yChecked} states`);
    expect(a11yFailures.length === 0, `no serious or critical axe-core violations${a11yFailures.length ? `:\n  ${a11yFailures.join('\n  ')}` : ''}`);
  } else {
    log('axe-core is not in tests/console/node_modules: accessibility check skipped');
  }
}

let failed = false;
const timer = setTimeout(() => {
  console.error(`\nFAILED: did not finish within ${TIMEOUT_MS / 1000} s (at ${currentStep})`);
  process.exit(1);
}, TIMEOUT_MS);
try {
  await main();
  console.log(`\nPASSED: the card check page (${((Date.now() - started) / 1000).toFixed(1)} s)`);
} catch (e) {
  failed = true;
  console.error(`\nFAILED at step ${currentStep}: ${e instanceof Failure ? e.message : e.stack ?? e}`);
  if (browser) {
    for (const ctx of browser.contexts()) {
      for (const p of ctx.pages()) {
        const file = path.join(os.tmpdir(), `verify-failure-${Date.now()}.png`);
        await p.screenshot({ path: file, fullPage: true }).catch(() => {});
        console.error(`  a page was at ${p.url()} (screenshot ${file})`);
      }
    }
  }
}
clearTimeout(timer);
await browser?.close().catch(() => {});
await server.close();
console.log(`page: ${passed} passed, ${failed ? 1 : 0} failed`);
process.exit(failed ? 1 : 0);
