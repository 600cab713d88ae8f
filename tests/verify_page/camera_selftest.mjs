// camera.mjs on cards made here, until the vault prints its own: for each
// of the fixture seals valid, revoked and a flipped signature, a card-sized
// PDF (Chromium's page.pdf) with the seal's QR code (Debian's `qrencode`
// draws it, as SVG), rasterised by `pdftoppm -png` as the printed card's
// PDF will be, then fed to camera.mjs through Chromium's fake camera.
//
// Run: node tests/verify_page/camera_selftest.mjs [--dpi 300] [--keep DIR]
// Needs: /usr/bin/chromium, `npm ci` in tests/console, qrencode and
// pdftoppm (apt-get install qrencode poppler-utils); says so and exits 0
// without them unless VERIFY_REQUIRE_TOOLS=1.

import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { makeFixtures } from './make_seal.mjs';
import { CHROMIUM_ARGS, consoleModules } from './serve.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const opt = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const DPI = Number(opt('--dpi', '300'));
const KEEP = opt('--keep', null);

const have = (tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
const missing = ['qrencode', 'pdftoppm'].filter((t) => !have(t));
if (missing.length) {
  console.log(`camera_selftest: ${missing.join(' and ')} missing (apt-get install qrencode poppler-utils): skipped`);
  process.exit(process.env.VERIFY_REQUIRE_TOOLS ? 1 : 0);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);

function cardHtml(card, svg) {
  return `<!doctype html><html><head><meta charset="utf-8"><style>
    @page { size: 85.6mm 54mm; margin: 0; }
    html, body { margin: 0; }
    .card { box-sizing: border-box; width: 85.6mm; height: 54mm; padding: 3mm; display: flex; gap: 3mm;
            font: 7pt/1.3 sans-serif; border: 0.3mm solid #1d3557; }
    .text { flex: 1; }
    .prog { font-weight: 700; font-size: 10pt; color: #1d3557; }
    .qr { width: 30mm; height: 30mm; align-self: flex-end; }
    .qr svg { width: 100%; height: 100%; }
  </style></head><body><div class="card">
    <div class="text"><div class="prog">${esc(card.program)}</div>
      <div>${esc(card.name)}</div><div>No. ${esc(card.number)}</div>
      <div>Born ${esc(card.birth_date)}</div><div>Expires ${esc(card.expires)}</div>
      <div>${esc(card.address ?? '')}</div></div>
    <div class="qr">${svg.replace(/^<\?xml[^>]*>\s*/, '').replace(/<!--.*?-->\s*/s, '')}</div>
  </div></body></html>`;
}

const port = await freePort();
const fx = makeFixtures({ issuer: `http://127.0.0.1:${port}` });
const dir = KEEP ? path.resolve(KEEP) : fs.mkdtempSync(path.join(os.tmpdir(), 'verify-cards-'));
fs.mkdirSync(dir, { recursive: true });
const fixturesFile = path.join(dir, 'fixtures.json');
fs.writeFileSync(fixturesFile, JSON.stringify({
  issuer: fx.issuer,
  jwks: fx.jwks,
  status_lists: Object.fromEntries(Object.entries(fx.lists).map(([n, jwt]) => [`/v1/status-lists/${n}`, jwt])),
}));

const { chromium } = await consoleModules();
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', chromiumSandbox: false, args: CHROMIUM_ARGS });
const page = await browser.newPage();
const cases = [
  ['valid', fx.cards.valid, 'Valid'],
  ['revoked', { ...fx.cards.valid, ...fx.cards.revoked }, 'Revoked'],
  ['badSignature', fx.cards.valid, 'Not genuine'],
];
const pngs = [];
for (const [name, card] of cases) {
  const svg = execFileSync('qrencode', ['-t', 'SVG', '-l', 'M', '-m', '4', '-o', '-', fx.seals[name].text], { encoding: 'utf8' });
  await page.setContent(cardHtml(card, svg));
  const pdf = path.join(dir, `${name}.pdf`);
  await page.pdf({ path: pdf, width: '85.6mm', height: '54mm', printBackground: true });
  execFileSync('pdftoppm', ['-png', '-r', String(DPI), '-singlefile', pdf, path.join(dir, name)]);
  pngs.push(path.join(dir, `${name}.png`));
}
await browser.close();

let passed = 0;
let failed = 0;
for (const [i, [name, card, expect]] of cases.entries()) {
  const run = spawnSync(process.execPath, [path.join(HERE, 'camera.mjs'), pngs[i], '--fixtures', fixturesFile, '--expect', expect], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  let out = {};
  try {
    out = JSON.parse(run.stdout);
  } catch {
    out = { error: `no JSON: ${run.stdout} ${run.stderr}` };
  }
  const nameOk = expect === 'Not genuine' ? !out.fields?.name : out.fields?.name === card.name;
  const ok = run.status === 0 && out.verdict === expect && nameOk && out.camera_stopped === true;
  if (ok) passed += 1;
  else failed += 1;
  console.log(`${ok ? 'ok' : 'FAILED'}: ${name} card (${out.video?.width}×${out.video?.height} at ${DPI} dpi): ` +
    `"${out.verdict}" in ${out.read_ms} ms, name ${JSON.stringify(out.fields?.name ?? null)}${out.error ? ` — ${out.error}` : ''}`);
}
if (!KEEP) fs.rmSync(dir, { recursive: true, force: true });
else console.log(`cards, PDFs and fixtures kept in ${dir}`);
console.log(`camera: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
