// WebKit, the engine of Safari on iPhones, driven through Debian's WebKitWebDriver and its
// MiniBrowser under Xvfb, with a small W3C WebDriver client over fetch. Its traffic goes
// through `networkSwitch` (harness.mjs): WebDriver has no offline mode.

import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './harness.mjs';

export const MINIBROWSER = process.env.MINIBROWSER ?? '/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser';
const ELEMENT = 'element-6066-11e4-a52e-4f735466cecf';

async function call(base, method, path, body, timeoutMs = 60_000) {
  const answer = await fetch(base + path, {
    method,
    headers: body === undefined ? undefined : { 'content-type': 'application/json; charset=utf-8' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const json = await answer.json();
  if (!answer.ok || json.value?.error) {
    throw new Error(`WebDriver ${method} ${path}: ${json.value?.error}: ${json.value?.message}`);
  }
  return json.value;
}

/** Xvfb, WebKitWebDriver and one browser session at a phone's size, its traffic through `proxy`. */
export async function launchWebKit({ proxy }) {
  const children = [];
  const display = `:${90 + Math.floor(Math.random() * 400)}`;
  const xvfb = spawn('Xvfb', [display, '-screen', '0', '480x900x24', '-nolisten', 'tcp'], { stdio: 'ignore' });
  children.push(xvfb);
  // MiniBrowser's toolbar keeps its window wider than a phone unless its minimum widths go.
  const config = mkdtempSync(join(tmpdir(), 'doorstep-webkit-'));
  mkdirSync(join(config, 'gtk-3.0'));
  writeFileSync(join(config, 'gtk-3.0', 'gtk.css'), 'headerbar, toolbar, button, entry { min-width: 0; min-height: 0; padding: 0; margin: 0; }\n');
  const port = await freePort();
  const driver = spawn('WebKitWebDriver', [`--port=${port}`], {
    stdio: 'ignore',
    env: { ...process.env, DISPLAY: display, XDG_CONFIG_HOME: config },
  });
  children.push(driver);
  const base = `http://127.0.0.1:${port}`;
  const stop = () => children.forEach((child) => child.kill());
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        await call(base, 'GET', '/status', undefined, 2_000);
        break;
      } catch (error) {
        if (attempt > 100) throw error;
        await new Promise((done) => setTimeout(done, 100));
      }
    }
    const capabilities = {
      alwaysMatch: {
        'webkitgtk:browserOptions': { binary: MINIBROWSER, args: ['--automation'] },
        proxy: { proxyType: 'manual', httpProxy: proxy },
      },
    };
    // A session start has been seen to hang once in many: try again.
    let session;
    for (let attempt = 1; !session; attempt++) {
      try {
        session = await call(base, 'POST', '/session', { capabilities }, 30_000);
      } catch (error) {
        if (attempt >= 3) throw error;
      }
    }
    const browser = new WebKitSession(base, session.sessionId, stop);
    // 38 px of the window are MiniBrowser's toolbar: the page gets 390×844.
    await browser.cmd('POST', '/window/rect', { width: 390, height: 882 });
    return browser;
  } catch (error) {
    stop();
    throw error;
  }
}

export class WebKitSession {
  constructor(base, id, stop) {
    this.base = base;
    this.id = id;
    this.stop = stop;
  }

  cmd(method, path, body, timeoutMs) {
    return call(this.base, method, `/session/${this.id}${path}`, body, timeoutMs);
  }

  navigate(url) { return this.cmd('POST', '/url', { url }); }
  refresh() { return this.cmd('POST', '/refresh', {}); }

  /** Runs `script` (a function body; a returned promise is awaited) in the page. */
  run(script, ...args) { return this.cmd('POST', '/execute/sync', { script, args }); }

  /** Waits until `script` returns something truthy, and returns it. */
  async until(script, what, timeoutMs = 30_000, ...args) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await this.run(script, ...args).catch(() => null);
      if (value) return value;
      if (Date.now() > deadline) throw new Error(`WebKit: timed out waiting for ${what}`);
      await new Promise((done) => setTimeout(done, 150));
    }
  }

  async find(css) {
    await this.until('return !!document.querySelector(arguments[0])', css, 30_000, css);
    return (await this.cmd('POST', '/element', { using: 'css selector', value: css }))[ELEMENT];
  }

  async button(text) {
    const xpath = `//button[normalize-space()="${text}"]`;
    await this.until(
      'return !!document.evaluate(arguments[0], document, null, XPathResult.FIRST_ORDERED_NODE_TYPE, null).singleNodeValue',
      `the button "${text}"`,
      30_000,
      xpath,
    );
    return (await this.cmd('POST', '/element', { using: 'xpath', value: xpath }))[ELEMENT];
  }

  /**
   * A real click. The element is centred first: WebDriver scrolls it only to the edge of the
   * viewport, where the app's sticky top bar or a prompt floating over the foot of the screen
   * may cover it, and the click is then refused as intercepted.
   */
  async click(element) {
    await this.run('arguments[0].scrollIntoView({ block: "center" })', { [ELEMENT]: element });
    return this.cmd('POST', `/element/${element}/click`, {});
  }

  /** Real key events, one character at a time. */
  type(element, text) { return this.cmd('POST', `/element/${element}/value`, { text }); }

  async screenshot(file) {
    writeFileSync(file, Buffer.from(await this.cmd('GET', '/screenshot'), 'base64'));
  }

  async quit() {
    await call(this.base, 'DELETE', `/session/${this.id}`).catch(() => {});
    this.stop();
  }
}
