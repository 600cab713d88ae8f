// A tiny stand-in for the vault's routes the card check uses, for
// page.mjs and camera.mjs: src/verify_page/ under /verify/, the issuer
// metadata at /.well-known/jwt-vc-issuer and status lists at
// /v1/status-lists/N, every answer under the console's CSP. Listens on
// 127.0.0.1 only. Records every request it answers.

import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const REPO = path.resolve(HERE, '..', '..');
export const PAGE_DIR = path.join(REPO, 'src', 'verify_page');

/** The console's page policy (src/console/mod.rs CSP). */
export const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; " +
  "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const ASSETS = {
  '/verify/': ['index.html', 'text/html; charset=utf-8'],
  '/verify/verify.js': ['verify.js', 'text/javascript; charset=utf-8'],
  '/verify/verify.css': ['verify.css', 'text/css; charset=utf-8'],
  '/verify/jsqr.js': ['jsqr.js', 'text/javascript; charset=utf-8'],
  '/verify/sw.js': ['sw.js', 'text/javascript; charset=utf-8'],
};

/** Starts the server. `fixtures()` is read on every request (so it can be
    made once the port is known): { jwks, lists: { n: jwt } }. */
export function startServer({ fixtures, port = 0 }) {
  const requests = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url, 'http://127.0.0.1');
      requests.push({ method: req.method, url: req.url, body: Buffer.concat(chunks).toString('latin1'), at: Date.now() });
      const send = (status, type, body, extra = {}) => {
        res.writeHead(status, {
          'content-type': type,
          'content-security-policy': CSP,
          'referrer-policy': 'same-origin',
          'x-content-type-options': 'nosniff',
          ...extra,
        });
        res.end(req.method === 'HEAD' ? undefined : body);
      };
      if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'text/plain', 'method not allowed');
      if (url.pathname === '/verify') return send(308, 'text/plain', '', { location: '/verify/' });
      const asset = ASSETS[url.pathname];
      if (asset) {
        return send(200, asset[1], fs.readFileSync(path.join(PAGE_DIR, asset[0])), { 'cache-control': 'no-cache' });
      }
      const f = fixtures();
      if (url.pathname === '/.well-known/jwt-vc-issuer') {
        return send(200, 'application/json', JSON.stringify(f.jwks), { 'cache-control': 'public, max-age=300' });
      }
      const m = /^\/v1\/status-lists\/([0-9]+)$/.exec(url.pathname);
      if (m && f.lists[m[1]]) {
        return send(200, 'application/statuslist+jwt', f.lists[m[1]], { 'cache-control': 'public, max-age=300', vary: 'accept' });
      }
      return send(404, 'text/plain', 'not found');
    });
  });
  return new Promise((resolve, reject) => {
    server.on('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const origin = `http://127.0.0.1:${server.address().port}`;
      resolve({
        origin,
        requests,
        close: () => new Promise((r) => {
          server.closeAllConnections?.();
          server.close(() => r());
        }),
      });
    });
  });
}

/** playwright-core and axe-core from tests/console/node_modules (npm ci there). */
export async function consoleModules() {
  const { createRequire } = await import('node:module');
  const require = createRequire(path.join(REPO, 'tests', 'console', 'package.json'));
  const { chromium } = require('playwright-core');
  let axeSource = null;
  try {
    axeSource = fs.readFileSync(path.join(path.dirname(require.resolve('axe-core')), 'axe.min.js'), 'utf8');
  } catch {
    // axe-core not installed: page.mjs says so and skips that check
  }
  return { chromium, axeSource };
}

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
