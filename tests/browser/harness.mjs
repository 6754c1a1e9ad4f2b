// What the browser tests share: the real sync server serving the web build and the API from
// one origin, as `scripts/run` does, started and stopped on a fixed port; Chromium at a phone
// viewport; and the steps a worker takes in the app.

import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync, existsSync, cpSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import net from 'node:net';
import { createServer, request as httpRequest } from 'node:http';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
export const repo = resolve(here, '..', '..');
const target = process.env.CARGO_TARGET_DIR ? resolve(process.env.CARGO_TARGET_DIR) : join(repo, 'target');
export const webRoot = process.env.DOORSTEP_WEB_ROOT ?? join(target, 'dx', 'doorstep-mobile', 'debug', 'web', 'public');
export const serverBinary = process.env.DOORSTEP_SERVER_BINARY ?? join(target, 'debug', 'doorstep-sync-server');
export const screenshots = process.env.DOORSTEP_SCREENSHOTS ?? join(target, 'screenshots');
export const PASSWORD = 'doorstep-demo';
export const PHONE = { width: 390, height: 844 };

/**
 * A network the test can cut, for browsers without an offline mode of their own (WebKit and
 * Firefox through WebDriver): a forward HTTP proxy that every request goes through, loopback
 * included. `cut()` refuses every connection, `restore()` passes them again.
 */
export async function networkSwitch() {
  const sockets = new Set();
  let cut = false;
  const server = createServer((incoming, answer) => {
    if (cut) {
      incoming.socket.destroy();
      return;
    }
    const target = new URL(incoming.url);
    const onward = httpRequest(
      { host: target.hostname, port: target.port, path: target.pathname + target.search, method: incoming.method, headers: incoming.headers },
      (reply) => {
        answer.writeHead(reply.statusCode, reply.headers);
        reply.pipe(answer);
      },
    );
    onward.on('error', () => answer.destroy());
    incoming.pipe(onward);
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise((done) => server.listen(0, '127.0.0.1', done));
  return {
    address: `127.0.0.1:${server.address().port}`,
    cut() {
      cut = true;
      for (const socket of sockets) socket.destroy();
    },
    restore() {
      cut = false;
    },
    close: () => new Promise((done) => {
      for (const socket of sockets) socket.destroy();
      server.close(done);
    }),
  };
}

/** A free loopback port. */
export async function freePort() {
  return new Promise((done, fail) => {
    const probe = net.createServer();
    probe.on('error', fail);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => done(port));
    });
  });
}

/** The web build to serve; it must have been built. */
export function webBuild() {
  if (!existsSync(join(webRoot, 'index.html'))) {
    throw new Error(`no web build at ${webRoot}: run scripts/web-build`);
  }
  return webRoot;
}

/**
 * A copy of the web build to serve, which a test may change as a deploy would
 * (`deployNewBuild`) without touching the build itself; `remove` when done.
 */
export function copyOfWebBuild() {
  const copy = mkdtempSync(join(tmpdir(), 'doorstep-web-'));
  cpSync(webBuild(), copy, { recursive: true });
  return { root: copy, remove: () => rmSync(copy, { recursive: true, force: true }) };
}

/**
 * Deploys a new build into `root` while the server serves it: the page gains a marker the
 * test can look for, and the service worker gets the new build's list of files, as
 * `scripts/web-build` writes it, so its bytes change as a real build's do.
 */
export function deployNewBuild(root, marker) {
  const index = join(root, 'index.html');
  const page = readFileSync(index, 'utf8');
  writeFileSync(index, page.replace('</head>', `<meta name="doorstep-build" content="${marker}">\n</head>`));
  execFileSync(join(repo, 'scripts', 'web-app-shell'), [root], { encoding: 'utf8' });
}

/** The real sync server binary, with its own data folder, on a port chosen up front. */
export class SyncServer {
  constructor(port, webRoot) {
    this.port = port;
    this.url = `http://127.0.0.1:${port}`;
    this.webRoot = webRoot;
    this.data = mkdtempSync(join(tmpdir(), 'doorstep-browser-server-'));
    this.child = null;
    this.log = '';
  }

  admin(args, input = '') {
    return execFileSync(serverBinary, ['--data-dir', this.data, 'admin', ...args], { input, encoding: 'utf8' });
  }

  /** The demo team: amara (worker), ben (colleague), grace (supervisor). */
  seed() {
    this.admin(['team', 'create', 'demo']);
    for (const [user, role] of [['amara', 'worker'], ['ben', 'colleague'], ['grace', 'supervisor']]) {
      this.admin(['user', 'create', user], `${PASSWORD}\n`);
      this.admin(['team', 'add', 'demo', user, '--role', role]);
    }
  }

  async start() {
    this.child = spawn(
      serverBinary,
      ['--data-dir', this.data, 'serve', '--listen', `127.0.0.1:${this.port}`, '--web-root', this.webRoot],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    this.child.stderr.on('data', (chunk) => { this.log += chunk; });
    for (let attempt = 0; attempt < 200; attempt++) {
      try {
        const answer = await fetch(`${this.url}/healthz`);
        if (answer.ok) return;
      } catch { /* not up yet */ }
      if (this.child.exitCode !== null) throw new Error(`the sync server exited:\n${this.log}`);
      await new Promise((done) => setTimeout(done, 100));
    }
    throw new Error(`the sync server did not start:\n${this.log}`);
  }

  async stop() {
    if (!this.child) return;
    const exited = new Promise((done) => this.child.once('exit', done));
    this.child.kill('SIGTERM');
    await exited;
    this.child = null;
  }
}

const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const CHROMIUM_FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

export async function launchChromium() {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS });
}

/**
 * Chromium as a phone with the app installed: a real profile (installability is not checked
 * in a private window), its own window whose page can really be hidden (Playwright's own
 * contexts keep their pages always visible), at a phone's size, with persistent storage
 * granted as a phone grants it to an installed app. Returns a `Phone` on `url`, and `close`.
 */
export async function launchInstalledPhone(url, name) {
  const profile = mkdtempSync(join(tmpdir(), 'doorstep-chromium-'));
  const child = spawn(
    CHROMIUM,
    ['--headless', '--remote-debugging-port=0', `--user-data-dir=${profile}`, '--window-size=390,844', ...CHROMIUM_FLAGS, 'about:blank'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const endpoint = await new Promise((done, fail) => {
    let said = '';
    child.stderr.on('data', (chunk) => {
      said += chunk;
      const found = said.match(/DevTools listening on (ws:\/\/\S+)/);
      if (found) done(found[1]);
    });
    child.once('exit', () => fail(new Error(`Chromium exited:\n${said}`)));
  });
  const browser = await chromium.connectOverCDP(endpoint, { noDefaults: true });
  const context = browser.contexts()[0];
  const page = context.pages()[0] ?? (await context.newPage());
  const cdp = await context.newCDPSession(page);
  const browserCdp = await browser.newBrowserCDPSession();
  await cdp.send('Emulation.setDeviceMetricsOverride', { width: PHONE.width, height: PHONE.height, deviceScaleFactor: 2, mobile: true });
  await cdp.send('Emulation.setTouchEmulationEnabled', { enabled: true });
  await browserCdp.send('Browser.grantPermissions', { origin: new URL(url).origin, permissions: ['durableStorage'] });
  const { targetInfo } = await cdp.send('Target.getTargetInfo');
  const { windowId } = await browserCdp.send('Browser.getWindowForTarget', { targetId: targetInfo.targetId });
  const phone = new Phone(context, page, name);
  phone.watch();
  phone.cdp = cdp;
  /** Puts the phone down (the window minimised: the page is hidden), or picks it up. */
  phone.setHidden = async (hidden) => {
    await browserCdp.send('Browser.setWindowBounds', { windowId, bounds: { windowState: hidden ? 'minimized' : 'normal' } });
    await page.waitForFunction((state) => document.visibilityState === state, hidden ? 'hidden' : 'visible');
  };
  phone.close = async () => {
    await browserCdp.send('Browser.close').catch(() => {});
    await new Promise((done) => (child.exitCode !== null ? done() : child.once('exit', done)));
  };
  await page.goto(url);
  return phone;
}

let shotNumber = 0;
/** Saves a screenshot of the whole page as `NN-name.png`. */
export async function shot(page, name) {
  mkdirSync(screenshots, { recursive: true });
  shotNumber += 1;
  const file = join(screenshots, `${String(shotNumber).padStart(2, '0')}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/**
 * Looks for `canary` in everything the page's origin stores: the store's IndexedDB database,
 * web storage and cookies, and the service worker's cache; and, as a control, in a database
 * the scan writes the phrase into unencrypted.
 */
export async function scanStorage(page, canary) {
  return page.evaluate(async (canary) => {
    const needle = new TextEncoder().encode(canary);
    const contains = (bytes) => {
      outer: for (let i = 0; i + needle.length <= bytes.length; i++) {
        for (let j = 0; j < needle.length; j++) if (bytes[i + j] !== needle[j]) continue outer;
        return true;
      }
      return false;
    };
    const asBytes = (value) => {
      if (value instanceof Uint8Array) return value;
      if (value instanceof ArrayBuffer) return new Uint8Array(value);
      return new TextEncoder().encode(JSON.stringify(value));
    };
    const readAll = (name) => new Promise((done, fail) => {
      const open = indexedDB.open(name);
      open.onerror = () => fail(open.error);
      open.onsuccess = () => {
        const db = open.result;
        const stores = [...db.objectStoreNames];
        const values = [];
        if (!stores.length) { db.close(); done(values); return; }
        const tx = db.transaction(stores, 'readonly');
        for (const store of stores) {
          const request = tx.objectStore(store).getAll();
          request.onsuccess = () => values.push(...request.result);
        }
        tx.oncomplete = () => { db.close(); done(values); };
        tx.onerror = () => fail(tx.error);
      };
    });
    // The control: the same scan finds the phrase where it is stored unencrypted.
    await new Promise((done, fail) => {
      const open = indexedDB.open('canary-control', 1);
      open.onupgradeneeded = () => open.result.createObjectStore('plain');
      open.onerror = () => fail(open.error);
      open.onsuccess = () => {
        const tx = open.result.transaction('plain', 'readwrite');
        tx.objectStore('plain').put(new TextEncoder().encode(`before ${canary} after`), 1);
        tx.oncomplete = () => { open.result.close(); done(); };
      };
    });
    const databases = (await indexedDB.databases()).map((db) => db.name);
    const stored = await readAll('doorstep');
    const control = await readAll('canary-control');
    const web = [JSON.stringify({ ...localStorage }), JSON.stringify({ ...sessionStorage }), document.cookie].join('');
    // The service worker's cache holds the app, never a note.
    let inCache = false;
    for (const name of await caches.keys()) {
      const cache = await caches.open(name);
      for (const request of await cache.keys()) {
        const body = new Uint8Array(await (await cache.match(request)).arrayBuffer());
        if (contains(body)) inCache = true;
      }
    }
    return {
      databases,
      chunks: stored.length,
      bytes: stored.reduce((sum, value) => sum + asBytes(value).length, 0),
      inStore: stored.some((value) => contains(asBytes(value))),
      inControl: control.some((value) => contains(asBytes(value))),
      inWebStorage: web.includes(canary),
      inCache,
    };
  }, canary);
}

/** One worker's phone: a browser context of its own, with its own storage. */
export class Phone {
  static async open(browser, appUrl, name) {
    const context = await browser.newContext({ viewport: PHONE, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
    await Phone.reportPolicyViolations(context);
    const page = await context.newPage();
    const phone = new Phone(context, page, name);
    phone.watch();
    await page.goto(appUrl);
    return phone;
  }

  /** A team member's phone, its passphrase set, signed in and synced, on the caseload. */
  static async signedIn(browser, appUrl, name) {
    const phone = await Phone.open(browser, appUrl, name);
    await phone.setPassphrase();
    await phone.signIn(name);
    await phone.syncNow();
    await phone.home();
    return phone;
  }

  /** Opens a client's case, then its record of `kind` from the timeline. */
  async openRecord(client, kind) {
    await this.openCase(client);
    await this.page.locator('.timeline .card', { hasText: kind }).click();
    await this.page.locator('.record-head h2', { hasText: kind }).waitFor();
  }

  /** Collects what the phone's pages report as errors, Content-Security-Policy violations among them. */
  watch() {
    this.context.on('page', (page) => this.watchPage(page));
    this.watchPage(this.page);
  }

  /** Reports every Content-Security-Policy violation in the phone's pages as an error. */
  static async reportPolicyViolations(context) {
    await context.addInitScript(() => {
      document.addEventListener('securitypolicyviolation', (event) => {
        console.error(`Content-Security-Policy violation: ${event.violatedDirective} blocked ${event.blockedURI || 'inline'}`);
      });
    });
  }

  watchPage(page) {
    page.on('pageerror', (error) => this.errors.push(String(error)));
    page.on('console', (message) => {
      if (message.type() === 'error') this.errors.push(message.text());
    });
  }

  /** Waits until the service worker holds the app and controls the page: from then on the app opens with no network. */
  async appShellReady() {
    await this.page.evaluate(async () => {
      await navigator.serviceWorker.ready;
      if (!navigator.serviceWorker.controller) {
        await new Promise((done) => navigator.serviceWorker.addEventListener('controllerchange', done, { once: true }));
      }
    });
  }

  constructor(context, page, name) {
    this.context = context;
    this.page = page;
    this.name = name;
    this.errors = [];
    this.passphrase = `${name} kettle harbour violet`;
  }

  button(name) {
    return this.page.getByRole('button', { name, exact: true });
  }

  async setPassphrase() {
    await this.page.getByLabel('Passphrase', { exact: true }).fill(this.passphrase);
    await this.page.getByLabel('Passphrase again', { exact: true }).fill(this.passphrase);
    await this.button('Set passphrase').click();
  }

  async unlock() {
    await this.page.getByLabel('Passphrase', { exact: true }).fill(this.passphrase);
    await this.button('Unlock').click();
  }

  async workOffline(user) {
    await this.page.getByLabel('User name').fill(user);
    await this.button('Work offline').click();
    await this.page.locator('h1', { hasText: 'Caseload' }).waitFor();
  }

  /** Signs in to the server the app came from. */
  async signIn(user) {
    const name = this.page.getByLabel('User name');
    if ((await name.getAttribute('readonly')) === null) await name.fill(user);
    await this.page.getByLabel('Password').fill(PASSWORD);
    await this.button('Sign in').click();
    await this.page.locator('h1', { hasText: 'Caseload' }).waitFor();
  }

  async openCase(client) {
    await this.page.locator('.card', { hasText: client }).first().click();
    await this.page.locator('.case-head h2', { hasText: client }).waitFor();
  }

  /** Starts a record of `kind` on the open case, for a visit that just finished after an hour. */
  async newRecord(kind) {
    await this.page.locator('.kinds').getByRole('button', { name: kind, exact: true }).click();
    await this.justFinished(kind);
  }

  /** Starts a session record on the open group, for a session that just finished after an hour. */
  async newSession() {
    await this.button('New session').click();
    await this.justFinished('Group session');
  }

  /** Answers "when was it?" with "just finished, 1 h" and waits for the record of `kind`. */
  async justFinished(kind) {
    const form = this.page.locator('.new-record');
    await form.getByRole('button', { name: 'Just finished' }).click();
    await form.getByRole('button', { name: '1 h', exact: true }).click();
    await form.locator('button[type=submit]').click();
    await this.page.locator('.record-head h2', { hasText: kind }).waitFor();
  }

  field(name, { list, entry } = {}) {
    const scope = list ? this.page.locator(`[data-list="${list}"] [data-entry="${entry}"]`) : this.page.locator('.record, .profile');
    return scope.locator(`textarea[name="${name}"], input[name="${name}"]`).first();
  }

  /** Types into a field and waits until the app says it is saved on the device. */
  async write(name, text, where) {
    await this.field(name, where).fill(text);
    await this.saved();
  }

  /** Types into a field with real key events, at the end of its text, at a person's pace. */
  async type(name, text, { at = 'end', delay = 40, where } = {}) {
    await this.field(name, where).click();
    await this.page.keyboard.press(at === 'start' ? 'Control+Home' : 'Control+End');
    await this.page.keyboard.type(text, { delay });
  }

  async saved() {
    await this.page.waitForTimeout(350);
    await this.page.locator('.save-status', { hasText: /Saved on this device|Synced/ }).waitFor();
  }

  async openSync() {
    await this.page.getByRole('button', { name: 'Sync status' }).click();
    await this.page.locator('h1', { hasText: 'Sync' }).waitFor();
  }

  async syncNow() {
    await this.openSync();
    await this.button('Sync now').click();
    await this.page.locator('.summary', { hasText: /last synced just now/ }).waitFor();
    await this.page.locator('.summary', { hasText: /^Everything is synced/ }).waitFor();
  }

  async back() {
    await this.page.getByRole('button', { name: 'Back' }).click();
  }

  async home() {
    while (await this.page.getByRole('button', { name: 'Back' }).count()) await this.back();
  }
}
