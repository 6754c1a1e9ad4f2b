// Doorstep's service worker: the app opens, unlocks and works with no network after one
// online visit (DESIGN §9).
//
// - The page is network-first, so an online reload always gets the newest build, with this
//   build's copy of it as the fallback when the network is gone or too slow.
// - The build's files are cache-first, from this build's own cache: until the worker agrees
//   to a new version, the app that runs is this build.
// - The sync API is never cached, nor anything not of this origin.
// - Each build has its own cache, filled from the list of its files that
//   `scripts/web-app-shell` writes into BUILD below. A new build's worker waits until the
//   worker agrees in the app ("A new version is ready") or every tab of the app has closed;
//   once in control it removes the older builds' caches.
//
// The cached copy of the page is the one this build installed, never one downloaded later: a
// page of a newer build would name files this build's cache does not hold.

// Filled in by scripts/web-app-shell with { version, files }, as it writes this file into a
// build. (It is kept out of mobile/public/, whose scripts dx minifies: the minifier would
// fold this constant and drop the code that uses it.)
const BUILD = null;

const PREFIX = 'doorstep-shell-';
const CACHE = PREFIX + (BUILD ? BUILD.version : 'development');
const PAGE = '/';
// How long a navigation waits for the network before the page comes from the cache: a
// connection that is there but does not answer (one bar, a captive portal) is no connection.
const PAGE_TIMEOUT_MS = 4000;

self.addEventListener('install', (event) => {
  if (!BUILD) return;
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(BUILD.files)));
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith(PREFIX) && name !== CACHE) await caches.delete(name);
    }
    await self.clients.claim();
  })());
});

self.addEventListener('message', (event) => {
  if (event.data && event.data.type === 'skip-waiting') self.skipWaiting();
  if (event.data && event.data.type === 'version' && event.ports[0]) {
    event.ports[0].postMessage(BUILD ? BUILD.version : 'development');
  }
});

self.addEventListener('fetch', (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== 'GET' || url.origin !== self.location.origin) return;
  if (url.pathname.startsWith('/v1/') || url.pathname === '/healthz') return;
  if (!BUILD) return;
  if (request.mode === 'navigate') {
    event.respondWith(page(request));
  } else if (BUILD.files.includes(url.pathname)) {
    event.respondWith(cached(request));
  }
});

async function page(request) {
  const fallback = () => caches.open(CACHE).then((cache) => cache.match(PAGE));
  try {
    const answer = await Promise.race([
      fetch(request),
      new Promise((_, fail) => setTimeout(() => fail(new Error('timed out')), PAGE_TIMEOUT_MS)),
    ]);
    if (answer.ok) return answer;
    return (await fallback()) || answer;
  } catch (error) {
    const copy = await fallback();
    if (copy) return copy;
    throw error;
  }
}

async function cached(request) {
  const cache = await caches.open(CACHE);
  const copy = await cache.match(request, { ignoreSearch: true });
  if (copy) return copy;
  const answer = await fetch(request);
  if (answer.ok) await cache.put(request, answer.clone());
  return answer;
}
