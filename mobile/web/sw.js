// Doorstep's service worker: the app opens, unlocks and works with no network after one
// online visit (DESIGN §9).
//
// - The page is network-first, with this build's copy of it as the fallback when the network
//   is gone or does not answer in time. (Online, a page of a newer build names its own files,
//   which this build's cache does not hold: they come from the network.)
// - This build's files are cache-first, from this build's own cache, filled when the worker
//   installs and never after: each file is checked against the hash the build gave it, so a
//   deploy during the install, or a portal's page in place of a file, cannot get in. A file
//   not in the cache goes to the network and is not kept.
// - The sync API is never cached, nor anything not of this origin.
// - A new build's worker waits until the worker agrees in the app ("A new version is ready")
//   or every tab of the app has closed; once in control it removes the older builds' caches.

// Filled in by scripts/web-app-shell with { version, files: [[path, integrity], ...] }, as it
// writes this file into a build. (It is kept out of mobile/public/, whose scripts dx
// minifies: the minifier would fold this constant and drop the code that uses it.)
const BUILD = null;

const PREFIX = 'doorstep-shell-';
const CACHE = PREFIX + (BUILD ? BUILD.version : 'development');
const PAGE = '/';
// How long a navigation waits for the network before the page comes from the cache: a
// connection that is there but hardly answers (one bar in a stairwell) is no connection.
const PAGE_TIMEOUT_MS = 4000;
const PATHS = new Set(BUILD ? BUILD.files.map(([path]) => path) : []);

self.addEventListener('install', (event) => {
  if (!BUILD) return;
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(
    // Past the browser's HTTP cache, and only the bytes this build made.
    BUILD.files.map(([path, integrity]) => new Request(path, { cache: 'reload', integrity })),
  )));
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith(PREFIX) && name !== CACHE) await caches.delete(name);
    }
    await self.clients.claim();
  })());
});

// The worker agreed to the new version in the app.
self.addEventListener('message', (event) => {
  if (event.data && event.data.type === 'skip-waiting') self.skipWaiting();
});

self.addEventListener('fetch', (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== 'GET' || url.origin !== self.location.origin) return;
  if (url.pathname.startsWith('/v1/') || url.pathname === '/healthz') return;
  if (!BUILD) return;
  if (request.mode === 'navigate') {
    event.respondWith(page(request));
  } else if (PATHS.has(url.pathname)) {
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
    // A redirect (a sign-in proxy in front of the server, say) is the server's answer too.
    if (answer.ok || answer.type === 'opaqueredirect') return answer;
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
  return copy || fetch(request);
}
