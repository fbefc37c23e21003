// Two Firefox pages call each other through a running relay (browser to browser: no Python
// peer), each drawing the other's avatar. A manual check beside the suite's
// tests/web/test_firefox_call.py (one headless Firefox and a Python peer): under Xvfb Firefox
// has WebGL (Mesa), so the avatars are drawn and the page's MediaPipe tracking runs on
// Firefox's fake camera, which the headless test has not. Needs firefox-esr and
// web/node_modules (`scripts/setup.sh test` installs puppeteer-core). Usage (web/README.md,
// "Firefox"):
//
//   python -m relay --port 18767 &
//   xvfb-run -a node scripts/firefox_call.mjs 18767 OUT_DIR
//
// Exit 0 when both pages are connected with equal SAS, each drawing the other's built-in (hash
// checked) and receiving frames; screenshots go to OUT_DIR.
import { randomBytes } from "node:crypto";
import { launchFirefox } from "./firefox_driver.mjs";

const [port, out = "."] = process.argv.slice(2);
const room = randomBytes(18).toString("base64url");
// One browser per side: a background tab's timers run at 1 Hz, so two tabs would not both send.
const launch = () => launchFirefox();
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
      render: a.renderFrames, note: a.avatarNote, trackingFps: a.trackingFps,
      tracked: a.face?.tracking?.frames ?? null, problem: a.face?.problem ?? "" };
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
