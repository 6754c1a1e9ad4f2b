// The core of the phone story in Firefox (Debian's ESR, driven over WebDriver BiDi by
// puppeteer-core): set a passphrase, sign in, write a note with real key events, reload it
// with the network cut (the service worker opens the app), and sync it. As in WebKit, the
// network is cut at a proxy between the browser and everything else, loopback included.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import puppeteer from 'puppeteer-core';
import { PASSWORD, PHONE, SyncServer, webBuild, freePort, networkSwitch, screenshots } from './harness.mjs';

const CLIENT = 'Ms Grace Achieng';
const SEEN = 'Met us at the gate; the children were at school.';
const PASSPHRASE = 'amara compass meadow ember';

describe('Doorstep in Firefox', () => {
  let server, network, browser, page;
  const errors = [];

  const shot = async (name) => {
    mkdirSync(screenshots, { recursive: true });
    await page.screenshot({ path: join(screenshots, `firefox-${name}.png`), fullPage: true });
  };
  const heading = (words) => page.waitForFunction(
    (text) => [...document.querySelectorAll('h1, h2')].some((h) => h.innerText.includes(text)),
    { timeout: 30_000 },
    words,
  );
  const button = (text) => page.locator(`::-p-xpath(//button[normalize-space()="${text}"])`);

  before(async () => {
    server = new SyncServer(await freePort(), webBuild());
    server.seed();
    await server.start();
    network = await networkSwitch();
    const [host, port] = network.address.split(':');
    browser = await puppeteer.launch({
      browser: 'firefox',
      executablePath: process.env.FIREFOX ?? '/usr/bin/firefox-esr',
      headless: true,
      extraPrefsFirefox: {
        'network.proxy.type': 1,
        'network.proxy.http': host,
        'network.proxy.http_port': Number(port),
        'network.proxy.allow_hijacking_localhost': true,
        'network.proxy.no_proxies_on': '',
      },
    });
    page = await browser.newPage();
    await page.setViewport(PHONE);
    page.on('pageerror', (error) => errors.push(String(error)));
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(message.text());
    });
    // The app runs under the server's Content-Security-Policy: any violation is an error.
    await page.evaluateOnNewDocument(() => {
      document.addEventListener('securitypolicyviolation', (event) => {
        console.error(`Content-Security-Policy violation: ${event.violatedDirective} blocked ${event.blockedURI || 'inline'}`);
      });
    });
  });

  after(async () => {
    await browser?.close();
    await network?.close();
    await server?.stop();
    assert.deepEqual(errors.filter((e) => !/NetworkError|Failed to fetch|network|Load failed/i.test(e)), [], 'the page logged errors');
  });

  test('set a passphrase and sign in', async () => {
    const response = await page.goto(`${server.url}/`);
    assert.match(response.headers()['content-security-policy'], /script-src 'self' 'wasm-unsafe-eval'/);
    await page.waitForSelector('input[name="passphrase"]');
    // The style sheet, a file under the policy, is applied.
    assert.equal(await page.$eval('button.primary', (b) => getComputedStyle(b).backgroundColor), 'rgb(20, 54, 93)');
    await page.type('input[name="passphrase"]', PASSPHRASE);
    await page.type('input[name="confirmation"]', PASSPHRASE);
    await button('Set passphrase').click();
    await page.waitForSelector('input[name="user"]');
    assert.equal(await page.$eval('.server-host', (host) => host.innerText), new URL(server.url).host);
    await page.type('input[name="user"]', 'amara');
    await page.type('input[name="password"]', PASSWORD);
    await button('Sign in').click();
    await heading('Caseload');
  });

  test('write a note, typed key by key', async () => {
    await button('New case').click();
    await page.waitForSelector('input[name="client_name"]');
    await page.type('input[name="client_name"]', CLIENT);
    await button('Open case').click();
    await heading(CLIENT);
    await button('Home visit').click();
    await button('Just finished').click();
    await button('1 h').click();
    await page.locator('.new-record button[type="submit"]').click();
    await heading('Home visit');
    await page.type('textarea[name="observed_client"]', SEEN, { delay: 10 });
    await page.click('textarea[name="assessment"]');
    await page.waitForFunction(() => /Saved on this device|Synced/.test(document.querySelector('.save-status')?.innerText));
    await shot('home-visit');
  });

  test('with the network cut, a reload opens the app from its service worker, and the note is there', async () => {
    await page.evaluate(() => navigator.serviceWorker.ready);
    await page.waitForFunction(() => !!navigator.serviceWorker.controller);
    network.cut();
    assert.equal(await page.evaluate(() => fetch('/healthz').then(() => 'reached', () => 'cut')), 'cut');
    await page.reload();
    await page.waitForSelector('input[name="passphrase"]');
    await page.type('input[name="passphrase"]', PASSPHRASE);
    await button('Unlock').click();
    await heading('Home visit');
    assert.equal(await page.$eval('textarea[name="observed_client"]', (field) => field.value), SEEN);
    await shot('offline-reload');
  });

  test('with the network back, the note syncs', async () => {
    network.restore();
    await page.click('button[aria-label="Sync status"]');
    await button('Sync now').click();
    await page.waitForFunction(
      () => /^Everything is synced · last synced just now/.test(document.querySelector('.summary')?.innerText),
      { timeout: 60_000 },
    );
    assert.match(server.admin(['audit']), /amara\t[^\t]+\t127.0.0.1\t[0-9a-f-]{36}\twrite/);
  });
});
