// What the browser tests share: the web build served on loopback, a real sync server
// started and stopped on a fixed port, Chromium at a phone viewport, and the steps a worker
// takes in the app.

import { spawn, execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdtempSync, mkdirSync, readFileSync, existsSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, extname, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import net from 'node:net';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
export const repo = resolve(here, '..', '..');
const target = process.env.CARGO_TARGET_DIR ? resolve(process.env.CARGO_TARGET_DIR) : join(repo, 'target');
export const webRoot = process.env.DOORSTEP_WEB_ROOT ?? join(target, 'dx', 'doorstep-mobile', 'debug', 'web', 'public');
export const serverBinary = process.env.DOORSTEP_SERVER_BINARY ?? join(target, 'debug', 'doorstep-sync-server');
export const screenshots = process.env.DOORSTEP_SCREENSHOTS ?? join(target, 'screenshots');
export const PASSWORD = 'doorstep-demo';
export const PHONE = { width: 390, height: 844 };

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.wasm': 'application/wasm',
  '.css': 'text/css',
  '.json': 'application/json',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
};

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

/** Serves the web build, as any static host would; stays up while the sync server is down. */
export async function serveWebApp() {
  if (!existsSync(join(webRoot, 'index.html'))) {
    throw new Error(`no web build at ${webRoot}: run NO_DOWNLOADS=1 dx build --platform web in mobile/`);
  }
  const server = createServer((request, response) => {
    const path = decodeURIComponent(new URL(request.url, 'http://x').pathname);
    let file = resolve(webRoot, '.' + path);
    if (!file.startsWith(webRoot) || !existsSync(file) || statSync(file).isDirectory()) {
      file = join(webRoot, 'index.html');
    }
    response.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
    response.end(readFileSync(file));
  });
  await new Promise((done) => server.listen(0, '127.0.0.1', done));
  const origin = `http://127.0.0.1:${server.address().port}`;
  return { origin, close: () => new Promise((done) => server.close(done)) };
}

/** The real sync server binary, with its own data folder, on a port chosen up front. */
export class SyncServer {
  constructor(port, allowOrigin) {
    this.port = port;
    this.url = `http://127.0.0.1:${port}`;
    this.allowOrigin = allowOrigin;
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
      ['--data-dir', this.data, 'serve', '--listen', `127.0.0.1:${this.port}`, '--allow-origin', this.allowOrigin],
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

export async function launchChromium() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
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

/** One worker's phone: a browser context of its own, with its own storage. */
export class Phone {
  static async open(browser, appUrl, name) {
    const context = await browser.newContext({ viewport: PHONE, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
    const page = await context.newPage();
    const phone = new Phone(context, page, name);
    page.on('pageerror', (error) => phone.errors.push(String(error)));
    page.on('console', (message) => {
      if (message.type() === 'error') phone.errors.push(message.text());
    });
    await page.goto(appUrl);
    return phone;
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

  async signIn(user, server) {
    const name = this.page.getByLabel('User name');
    if ((await name.getAttribute('readonly')) === null) await name.fill(user);
    await this.page.getByLabel('Server').fill(server);
    await this.page.getByLabel('Password').fill(PASSWORD);
    await this.button('Sign in').click();
    await this.page.locator('h1', { hasText: 'Caseload' }).waitFor();
  }

  async openCase(client) {
    await this.page.locator('.card', { hasText: client }).first().click();
    await this.page.locator('.case-head h2', { hasText: client }).waitFor();
  }

  async newRecord(kind) {
    await this.page.locator('.kinds').getByRole('button', { name: kind, exact: true }).click();
    await this.page.locator('form.new-record button[type=submit]').click();
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
