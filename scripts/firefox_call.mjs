// Two Firefox pages call each other through a running relay, driven over WebDriver BiDi by
// puppeteer-core (Playwright cannot drive Debian's stock firefox-esr). A manual check, not a
// test: it needs firefox-esr (apt) and puppeteer-core (npm), which the test set-up does not
// install. Usage (web/README.md, "Firefox"):
//
//   apt-get install -y firefox-esr && (cd /tmp/ff && npm install puppeteer-core@24)
//   python -m relay --port 18767 &
//   NODE_PATH=/tmp/ff/node_modules xvfb-run -a node scripts/firefox_call.mjs 18767 OUT_DIR
//
// Headless Firefox has no WebGL (the page then says so and the call goes on undrawn); under
// Xvfb it draws with Mesa. Exit 0 when both pages are connected with equal SAS, each drawing
// the other's built-in (hash checked) and receiving frames; screenshots go to OUT_DIR.
import { createRequire } from "node:module";
import { randomBytes } from "node:crypto";

const require = createRequire(`${process.env.NODE_PATH ?? "."}/`);
const puppeteer = require("puppeteer-core");
const [port, out = "."] = process.argv.slice(2);
const room = randomBytes(18).toString("base64url");
// One browser per side: a background tab's timers run at 1 Hz, so two tabs would not both send.
const launch = () => puppeteer.launch({
  browser: "firefox", executablePath: "/usr/bin/firefox-esr", headless: !process.env.DISPLAY,
  extraPrefsFirefox: {
    "media.navigator.streams.fake": true, "media.navigator.permission.disabled": true,
    "webgl.force-enabled": true,
  },
});
const browsers = [await launch(), await launch()];
const pages = [];
for (const [i, avatar] of ["fox", "bolt"].entries()) {
  const page = await browsers[i].newPage();
  page.on("pageerror", (e) => console.log(`${avatar}: page error: ${e}`));
  await page.setViewport({ width: 600, height: 1000 });
  await page.goto(`http://127.0.0.1:${port}/#room=${room}`);
  await page.waitForSelector(`input[value=${avatar}]`);
  await page.click(`input[value=${avatar}]`);
  await page.type("#name", `firefox ${avatar} 김`);
  await page.click("#join");
  pages.push(page);
}
// (Polled with evaluate: waitForFunction would need eval, which the page's CSP forbids.)
let states = [];
for (let k = 0; k < 60; k++) {
  states = await Promise.all(pages.map((p) => p.evaluate(() => {
    const a = window.avatarchat;
    return { state: a.state, sas: a.sas, peer: a.peerAvatar, frames: a.framesReceived,
      render: a.renderFrames, note: a.avatarNote };
  })));
  if (states.every((s) => s.state === "connected" && s.sas && s.peer?.source === "builtin" && s.frames > 20)) break;
  await new Promise((r) => setTimeout(r, 1000));
}
for (const [i, page] of pages.entries()) await page.screenshot({ path: `${out}/firefox_${i}.png` });
console.log(JSON.stringify(states, null, 1));
for (const b of browsers) await b.close();
const ok = states.every((s) => s.state === "connected" && s.peer?.source === "builtin" && s.frames > 20)
  && states[0].sas === states[1].sas && states[0].peer.id === "bolt" && states[1].peer.id === "fox";
process.exit(ok ? 0 : 1);
