/* civic-vault front desk card check: the service worker (scope /verify/).

   Keeps the page's own four files so that the page opens with the network
   cut, and serves them cache-first (refreshing the copy in the background
   when the network answers). It handles nothing else: the issuer's keys
   (/.well-known/jwt-vc-issuer) and the status lists (/v1/status-lists/N)
   go to the network untouched and are never cached here — verify.js keeps
   them in localStorage with the time it fetched them. */

'use strict';

const CACHE = 'civic-verify-v1';
// './' is the page as served at GET /verify/ (index.html).
const ASSETS = ['./', 'verify.js', 'verify.css', 'jsqr.js'];
const SCOPE = new URL('./', self.location.href);
const CACHED = new Set(ASSETS.map((a) => new URL(a, SCOPE).href));
const PAGE = new URL('./', SCOPE).href;
const INDEX = new URL('index.html', SCOPE).href;

self.addEventListener('install', (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.addAll(ASSETS.map((a) => new Request(new URL(a, SCOPE).href, { cache: 'reload', credentials: 'omit' }))))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((names) => Promise.all(names.filter((n) => n.startsWith('civic-verify-') && n !== CACHE).map((n) => caches.delete(n))))
      .then(() => self.clients.claim()),
  );
});

/** The cache key of a request for one of the page's files, or null. */
function assetKey(request) {
  if (request.method !== 'GET') return null;
  const url = new URL(request.url);
  if (url.origin !== SCOPE.origin || url.search) return null;
  url.hash = '';
  if (url.href === INDEX) return PAGE;
  return CACHED.has(url.href) ? url.href : null;
}

self.addEventListener('fetch', (event) => {
  const key = assetKey(event.request);
  if (!key) return; // keys, status lists, anything else: the network's, untouched
  event.respondWith(
    caches.open(CACHE).then(async (cache) => {
      const cached = await cache.match(key);
      const fresh = fetch(key, { cache: 'no-cache', credentials: 'omit' })
        .then((r) => {
          if (r.ok && r.type === 'basic' && !r.redirected) {
            return cache.put(key, r.clone()).then(() => r);
          }
          return r;
        });
      if (cached) {
        event.waitUntil(fresh.catch(() => {})); // offline: the cached copy stands
        return cached;
      }
      return fresh;
    }),
  );
});
