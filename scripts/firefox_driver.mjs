// Debian's firefox-esr driven over WebDriver BiDi by puppeteer-core (web/package.json's
// devDependencies, installed by `scripts/setup.sh test` into web/node_modules; Playwright cannot
// drive a stock Firefox, it needs its own patched build, which we never download).
//
// Two uses:
// - `import { launchFirefox } from "./firefox_driver.mjs"` (scripts/firefox_call.mjs);
// - `node scripts/firefox_driver.mjs [--no-camera]` serves one page of one browser to another program over
//   JSON lines, so Python tests drive Firefox as they drive Chromium (tests/web/firefox.py):
//   stdin gets `{"id": 1, "op": "click", "selector": "#join"}`, stdout answers
//   `{"id": 1, "value": ...}` or `{"id": 1, "error": "..."}`; the first line is
//   `{"ready": true, "version": "firefox/153.8.0esr"}`. Stdin closing ends the browser.
//
// Fake media: Firefox's own fake devices (media.navigator.streams.fake: a camera of moving
// colour frames and a microphone tone) with no permission prompt. Firefox has no y4m camera
// as Chromium does, so its camera never shows a face; see web/README.md, "Firefox".
import { createRequire } from "node:module";
import readline from "node:readline";
import { pathToFileURL } from "node:url";

// puppeteer-core lives in web/node_modules (web/package.json), wherever this script is run from.
const require = createRequire(new URL("../web/package.json", import.meta.url));

export const FIREFOX = process.env.AVATARCHAT_FIREFOX ?? "/usr/bin/firefox-esr";

/**
 * One Firefox: headless unless a display is given (under Xvfb it has WebGL on Mesa; headless
 * Firefox has none), with fake camera and microphone and no permission prompts.
 * @param {{headless?: boolean, camera?: boolean}} [options]
 */
export async function launchFirefox(options = {}) {
  const camera = options.camera ?? true;
  const puppeteer = require("puppeteer-core");
  return puppeteer.launch({
    browser: "firefox",
    executablePath: FIREFOX,
    headless: options.headless ?? !process.env.DISPLAY,
    extraPrefsFirefox: {
      "media.navigator.streams.fake": true,
      "media.navigator.permission.disabled": true,
      // No camera at all (getUserMedia for video fails): the page sends its labelled synthetic
      // face, as Chromium's call test has it (its device-count=0).
      ...(camera ? {} : { "media.navigator.video.enabled": false }),
      "webgl.force-enabled": true,
      // A test page plays the peer's voice without a click first (Chromium: --autoplay-policy).
      "media.autoplay.default": 0,
      // Firefox names its host candidates with mDNS (….local) unless the page captures a
      // camera or microphone the user allowed; its fake devices with no prompt do not count,
      // and aioice's mDNS lookup of such a name gets no answer here, so a call to a Python
      // peer would never connect. A person who allowed the camera or microphone gets plain host
      // addresses, as this sets (web/README.md, "Firefox").
      "media.peerconnection.ice.obfuscate_host_addresses": false,
    },
  });
}

/** Poll `expr` in the page until it is truthy (waitForFunction would need eval, which the
 * page's CSP forbids); its last value, or an Error naming it after `timeoutMs`. */
async function waitFor(page, expr, timeoutMs, intervalMs = 100) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await page.evaluate(expr);
    if (value) return value;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${expr}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** The JSON-lines server: one browser, one page, the operations the Python tests use. */
async function serve() {
  // Always headless: a DISPLAY left in the environment (by an Xvfb test) may be gone.
  const browser = await launchFirefox({ headless: true, camera: !process.argv.includes("--no-camera") });
  // The tab Firefox opened with (a second one would cost a content process more).
  const page = (await browser.pages())[0] ?? await browser.newPage();
  /** every request the page made (its own origin only, the tests check) */
  const requests = [];
  /** uncaught errors and CSP reports, as Firefox logs them */
  const errors = [];
  page.on("request", (r) => requests.push(r.url()));
  page.on("pageerror", (e) => errors.push(String(e?.message ?? e)));
  const write = (obj) => process.stdout.write(`${JSON.stringify(obj)}\n`);
  const ops = {
    viewport: ({ width, height }) => page.setViewport({ width, height }),
    goto: async ({ url }) => {
      const response = await page.goto(url);
      return response && { status: response.status(), headers: response.headers() };
    },
    click: ({ selector }) => page.click(selector),
    type: ({ selector, text }) => page.type(selector, text),
    press: async ({ selector, key }) => {
      if (selector) await page.focus(selector);
      await page.keyboard.press(key);
    },
    evaluate: ({ expr }) => page.evaluate(expr),
    waitFor: ({ expr, timeoutMs }) => waitFor(page, expr, timeoutMs ?? 10_000),
    screenshot: async ({ path }) => { await page.screenshot({ path }); },
    requests: () => requests,
    errors: () => errors,
  };
  write({ ready: true, version: await browser.version() });
  const lines = readline.createInterface({ input: process.stdin });
  // One command at a time, in order: the tests await each answer anyway.
  for await (const line of lines) {
    if (!line.trim()) continue;
    let id = null;
    try {
      const msg = JSON.parse(line);
      id = msg.id;
      const op = ops[msg.op];
      if (!op) throw new Error(`unknown op ${msg.op}`);
      const value = await op(msg);
      write({ id, value: value === undefined ? null : value });
    } catch (e) {
      write({ id, error: String(e?.message ?? e) });
    }
  }
  await browser.close();
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  serve().catch((e) => {
    process.stdout.write(`${JSON.stringify({ ready: false, error: String(e?.stack ?? e) })}\n`);
    process.exit(1);
  });
}
