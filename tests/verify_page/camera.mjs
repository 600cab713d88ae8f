// The card check's camera path: a picture of a card (a PNG, as
// `pdftoppm -png` makes from the printed PDF) becomes Chromium's fake
// camera (a .y4m file: the PNG decoder and the I420 conversion are here,
// node:zlib only), the page's "Scan a card" button opens it, jsQR reads the
// seal from the video frames, and this prints the verdict and the fields
// the page shows, as JSON.
//
// Run against a running vault (it serves /verify/, the keys and the lists;
// this serves nothing):
//   node tests/verify_page/camera.mjs card.png --base http://127.0.0.1:PORT [--expect Valid]
// or against this directory's fixture server, with the keys and lists of
// make_seal.mjs (whose issuer fixes the port: the page checks iss and
// fetches lists of its own origin only):
//   node tests/verify_page/make_seal.mjs --issuer http://127.0.0.1:47311 > fx.json
//   node tests/verify_page/camera.mjs card.png --fixtures fx.json --expect Valid
// or with files: --jwks jwks.json --status-list 0=list0.jwt [--status-list 1=…] --port N
//
// --offline-again: then cut the network, reload the page (from its service
// worker) and read the card again with the keys and lists it kept.
// Other options: --timeout MS (default 30000) for the seal to be read,
// --y4m FILE to keep the converted video, --screenshot FILE.
// Exit status: 0 when a verdict was shown (and matches --expect), 1 otherwise.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';

import { CHROMIUM_ARGS, consoleModules, startServer } from './serve.mjs';

// ------------------------------------------------------------------ PNG

/** A non-interlaced 8-bit PNG (grey, grey+alpha, RGB, RGBA or palette) to
    { width, height, rgb } with alpha composited onto white. */
export function decodePng(buf) {
  const SIG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  if (buf.length < 8 || !buf.subarray(0, 8).equals(SIG)) throw new Error('not a PNG');
  let pos = 8;
  let ihdr = null;
  let palette = null;
  let trns = null;
  const idat = [];
  while (pos + 8 <= buf.length) {
    const len = buf.readUInt32BE(pos);
    const type = buf.toString('latin1', pos + 4, pos + 8);
    const data = buf.subarray(pos + 8, pos + 8 + len);
    pos += 12 + len;
    if (type === 'IHDR') {
      ihdr = {
        width: data.readUInt32BE(0),
        height: data.readUInt32BE(4),
        depth: data[8],
        colour: data[9],
        interlace: data[12],
      };
    } else if (type === 'PLTE') palette = data;
    else if (type === 'tRNS') trns = data;
    else if (type === 'IDAT') idat.push(data);
    else if (type === 'IEND') break;
  }
  if (!ihdr) throw new Error('PNG without IHDR');
  const { width, height, depth, colour, interlace } = ihdr;
  if (depth !== 8) throw new Error(`PNG bit depth ${depth}: only 8 is read`);
  if (interlace !== 0) throw new Error('interlaced PNG: not read');
  const channels = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 }[colour];
  if (!channels) throw new Error(`PNG colour type ${colour} not read`);
  if (colour === 3 && !palette) throw new Error('palette PNG without PLTE');
  const raw = zlib.inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  if (raw.length < height * (stride + 1)) throw new Error('PNG image data cut short');
  const px = Buffer.alloc(height * stride);
  for (let y = 0; y < height; y += 1) {
    const filter = raw[y * (stride + 1)];
    const src = y * (stride + 1) + 1;
    const row = y * stride;
    const prev = row - stride;
    for (let x = 0; x < stride; x += 1) {
      const a = x >= channels ? px[row + x - channels] : 0;
      const b = y > 0 ? px[prev + x] : 0;
      const c = x >= channels && y > 0 ? px[prev + x - channels] : 0;
      let v = raw[src + x];
      switch (filter) {
        case 0: break;
        case 1: v += a; break;
        case 2: v += b; break;
        case 3: v += (a + b) >> 1; break;
        case 4: {
          const p = a + b - c;
          const pa = Math.abs(p - a);
          const pb = Math.abs(p - b);
          const pc = Math.abs(p - c);
          v += pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
          break;
        }
        default: throw new Error(`PNG filter ${filter} unknown`);
      }
      px[row + x] = v & 0xff;
    }
  }
  const rgb = Buffer.alloc(width * height * 3);
  for (let i = 0; i < width * height; i += 1) {
    let r;
    let g;
    let b;
    let alpha = 255;
    const p = i * channels;
    if (colour === 0 || colour === 4) {
      r = g = b = px[p];
      if (colour === 4) alpha = px[p + 1];
    } else if (colour === 3) {
      const k = px[p];
      r = palette[k * 3];
      g = palette[k * 3 + 1];
      b = palette[k * 3 + 2];
      if (trns && k < trns.length) alpha = trns[k];
    } else {
      r = px[p];
      g = px[p + 1];
      b = px[p + 2];
      if (colour === 6) alpha = px[p + 3];
    }
    // Onto white, as the card's paper.
    rgb[i * 3] = Math.round((r * alpha + 255 * (255 - alpha)) / 255);
    rgb[i * 3 + 1] = Math.round((g * alpha + 255 * (255 - alpha)) / 255);
    rgb[i * 3 + 2] = Math.round((b * alpha + 255 * (255 - alpha)) / 255);
  }
  return { width, height, rgb };
}

// ------------------------------------------------------------------ Y4M

/** An RGB image to a Y4M file of `frames` identical I420 frames (BT.601,
    studio range, as libyuv's ARGBToI420). Odd sizes are padded with white. */
export function toY4m({ width, height, rgb }, frames = 2) {
  const w = width + (width % 2);
  const h = height + (height % 2);
  const at = (x, y) => {
    if (x >= width || y >= height) return [255, 255, 255];
    const i = (y * width + x) * 3;
    return [rgb[i], rgb[i + 1], rgb[i + 2]];
  };
  const Y = Buffer.alloc(w * h);
  const U = Buffer.alloc((w / 2) * (h / 2));
  const V = Buffer.alloc((w / 2) * (h / 2));
  for (let y = 0; y < h; y += 1) {
    for (let x = 0; x < w; x += 1) {
      const [r, g, b] = at(x, y);
      Y[y * w + x] = ((66 * r + 129 * g + 25 * b + 128) >> 8) + 16;
    }
  }
  for (let y = 0; y < h; y += 2) {
    for (let x = 0; x < w; x += 2) {
      let r = 0;
      let g = 0;
      let b = 0;
      for (const [dx, dy] of [[0, 0], [1, 0], [0, 1], [1, 1]]) {
        const p = at(x + dx, y + dy);
        r += p[0];
        g += p[1];
        b += p[2];
      }
      r /= 4;
      g /= 4;
      b /= 4;
      const i = (y / 2) * (w / 2) + x / 2;
      U[i] = Math.max(0, Math.min(255, ((-38 * r - 74 * g + 112 * b + 128) >> 8) + 128));
      V[i] = Math.max(0, Math.min(255, ((112 * r - 94 * g - 18 * b + 128) >> 8) + 128));
    }
  }
  const header = Buffer.from(`YUV4MPEG2 W${w} H${h} F10:1 Ip A1:1 C420jpeg\n`, 'latin1');
  const frame = Buffer.concat([Buffer.from('FRAME\n', 'latin1'), Y, U, V]);
  return { y4m: Buffer.concat([header, ...Array(frames).fill(frame)]), width: w, height: h };
}

// ------------------------------------------------------------------ run

function parseArgs(argv) {
  const o = { lists: {}, timeout: 30_000 };
  for (let i = 0; i < argv.length; i += 1) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--base') o.base = next().replace(/\/+$/, '');
    else if (a === '--fixtures') o.fixtures = next();
    else if (a === '--jwks') o.jwks = next();
    else if (a === '--status-list') {
      const v = next();
      const m = /^([0-9]+)=(.+)$/.exec(v);
      if (m) o.lists[m[1]] = m[2];
      else o.lists['0'] = v;
    } else if (a === '--port') o.port = Number(next());
    else if (a === '--expect') o.expect = next();
    else if (a === '--offline-again') o.offlineAgain = true;
    else if (a === '--timeout') o.timeout = Number(next());
    else if (a === '--y4m') o.y4mOut = next();
    else if (a === '--screenshot') o.screenshot = next();
    else if (a.startsWith('--')) throw new Error(`unknown option ${a}`);
    else if (!o.png) o.png = a;
    else throw new Error(`one PNG only (got ${a} too)`);
  }
  if (!o.png) throw new Error('usage: camera.mjs CARD.png (--base URL | --fixtures FILE | --jwks FILE --status-list [N=]FILE --port N)');
  if (!o.base && !o.fixtures && !o.jwks) throw new Error('give --base URL of a running vault, or --fixtures, or --jwks and --status-list');
  return o;
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const started = Date.now();
  const image = decodePng(fs.readFileSync(o.png));
  const { y4m, width, height } = toY4m(image);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'verify-camera-'));
  const y4mPath = o.y4mOut ? path.resolve(o.y4mOut) : path.join(tmp, 'card.y4m');
  fs.writeFileSync(y4mPath, y4m);
  console.error(`camera: ${o.png} (${image.width}×${image.height}) → ${y4mPath} (${width}×${height} I420)`);

  let server = null;
  let origin = o.base;
  if (!origin) {
    let fx;
    let port = o.port ?? 0;
    if (o.fixtures) {
      const f = JSON.parse(fs.readFileSync(o.fixtures, 'utf8'));
      const lists = {};
      for (const [p, jwt] of Object.entries(f.status_lists ?? {})) lists[p.split('/').pop()] = jwt;
      fx = { jwks: f.jwks, lists };
      const u = new URL(f.issuer);
      if (u.hostname !== '127.0.0.1') throw new Error(`the fixtures' issuer ${f.issuer} is not on 127.0.0.1`);
      port = o.port ?? Number(u.port);
    } else {
      const lists = {};
      for (const [n, file] of Object.entries(o.lists)) lists[n] = fs.readFileSync(file, 'utf8').trim();
      fx = { jwks: JSON.parse(fs.readFileSync(o.jwks, 'utf8')), lists };
    }
    server = await startServer({ fixtures: () => fx, port });
    origin = server.origin;
    console.error(`camera: serving src/verify_page and the fixtures at ${origin}`);
  }

  const { chromium } = await consoleModules();
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: !process.env.VERIFY_HEADED,
    chromiumSandbox: false,
    args: [
      ...CHROMIUM_ARGS,
      '--use-fake-device-for-media-stream',
      '--use-fake-ui-for-media-stream',
      `--use-file-for-fake-video-capture=${y4mPath}`,
    ],
  });
  const out = { origin, png: o.png, video: { width, height } };
  let ok = false;
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'en-US' });
    await context.grantPermissions(['camera'], { origin });
    const page = await context.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => {
      if (/Content[- ]Security[- ]Policy|Refused to/i.test(m.text())) errors.push(m.text());
    });
    const resp = await page.goto(`${origin}/verify/`);
    if (resp?.status() !== 200) throw new Error(`GET ${origin}/verify/ → ${resp?.status()}`);
    await page.waitForFunction(() => document.documentElement.dataset.refreshed === 'true', null, { timeout: 20_000 });
    out.freshness = await page.locator('#age').innerText();
    const early = await page.locator('#warnings li').allInnerTexts();
    if (early.some((w) => w.includes('but the issuer is'))) {
      console.error(`camera: the page is open at ${origin} but the vault's issuer (its console origin) is elsewhere: ` +
        'status lists cannot be fetched; give --base the vault\'s console origin (e.g. http://localhost:PORT)');
    }
    const t0 = Date.now();
    await page.getByRole('button', { name: 'Scan a card' }).click();
    await page
      .waitForFunction(() => document.getElementById('result').dataset.state === 'done', null, { timeout: o.timeout })
      .catch(async () => {
        const msg = await page.locator('#camera-msg').innerText().catch(() => '');
        const problem = await page.locator('#problem').innerText().catch(() => '');
        throw new Error(`no seal read within ${o.timeout} ms (camera: "${msg}"; problem: "${problem}")`);
      });
    out.read_ms = Date.now() - t0;
    Object.assign(out, await page.evaluate(() => {
      const fields = {};
      for (const dd of document.querySelectorAll('#fields dd')) fields[dd.dataset.field] = dd.textContent;
      return {
        verdict: document.getElementById('verdict').textContent,
        reason: document.getElementById('reason').textContent,
        fields,
        warnings: [...document.querySelectorAll('#warnings li')].map((li) => li.textContent),
        camera_stopped: document.getElementById('camera').hidden,
      };
    }));
    if (o.screenshot) await page.screenshot({ path: o.screenshot, fullPage: true });
    if (o.offlineAgain) {
      // The network cut: the page reloads from its service worker and reads
      // the card again against the keys and lists it keeps.
      await page.waitForFunction(() => navigator.serviceWorker.controller !== null, null, { timeout: 20_000 });
      await context.setOffline(true);
      const again = await page.reload();
      out.offline_from_service_worker = again?.fromServiceWorker() === true;
      await page.waitForFunction(() => document.documentElement.dataset.refreshed === 'true', null, { timeout: 20_000 });
      await page.getByRole('button', { name: 'Scan a card' }).click();
      await page.waitForFunction(() => document.getElementById('result').dataset.state === 'done', null, { timeout: o.timeout });
      out.offline_verdict = await page.evaluate(() => document.getElementById('verdict').textContent);
    }
    out.page_errors = errors;
    ok = errors.length === 0 && (!o.expect || out.verdict === o.expect)
      && (!o.offlineAgain || (out.offline_from_service_worker && (!o.expect || out.offline_verdict === o.expect)));
    if (o.expect && out.verdict !== o.expect) out.error = `expected "${o.expect}", the page says "${out.verdict}"`;
  } catch (e) {
    out.error = e.message;
  } finally {
    await browser.close().catch(() => {});
    await server?.close();
    if (!o.y4mOut) fs.rmSync(tmp, { recursive: true, force: true });
  }
  out.elapsed_ms = Date.now() - started;
  console.log(JSON.stringify(out, null, 2));
  return ok;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().then(
    (ok) => process.exit(ok ? 0 : 1),
    (e) => {
      console.error(`camera: ${e.message}`);
      process.exit(2);
    },
  );
}
