// The page: join form -> call view. The room code arrives in the URL fragment (#room=CODE),
// which browsers never send to a server, so it stays out of every log on the way.
//
// Until face tracking runs in the page, the frames sent are a synthetic animation (head
// sway, blinks, talking mouth): the UI says so. Peer text is only ever set as textContent.

import { Call, nowUs, validRoom } from "./wire.js";
import { AvatarView } from "./avatar.js";
import { BLENDSHAPE_INDEX, NUM_BLENDSHAPES } from "./blendshapes.js";
import { FLAGS, quantizeUnit } from "./frame.js";

const SEND_HZ = 30;
const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));

/** Test and debugging hooks (read-only use): what the page saw and sent. */
const debug = {
  state: "idle", detail: "", sas: "", chats: /** @type {{text: string, from: string}[]} */ ([]),
  peerHello: /** @type {Record<string, unknown> | null} */ (null), peerBye: "",
  framesReceived: 0, lastFrame: /** @type {unknown} */ (null),
  /** seq -> hex of the last frames sent (the test compares them with what Python received) */
  sent: /** @type {Record<number, string>} */ ({}),
  rttMs: /** @type {number | null} */ (null), renderFrames: 0,
  /** ms from the Join click to both channels open (the first time) */
  setupMs: /** @type {number | null} */ (null),
  /** @type {Call | null} */ call: null,
  /** @type {AvatarView | null} */ view: null,
};
Object.defineProperty(window, "avatarchat", { value: debug });

/** The room code in a pasted link ("…#room=CODE") or a bare code. @param {string} text */
export function roomFrom(text) {
  const t = text.trim();
  const hash = t.includes("#") ? t.slice(t.indexOf("#") + 1) : "";
  const fromHash = new URLSearchParams(hash).get("room");
  return fromHash ?? t;
}

/** The synthetic placeholder face at time `t` seconds. @param {number} t @param {number} seq */
export function syntheticFrame(t, seq) {
  const w = new Array(NUM_BLENDSHAPES).fill(0);
  const blink = (t % 3.2) < 0.15 ? 1 : 0;
  w[BLENDSHAPE_INDEX.eyeBlinkLeft] = blink;
  w[BLENDSHAPE_INDEX.eyeBlinkRight] = blink;
  w[BLENDSHAPE_INDEX.jawOpen] = 0.5 + 0.5 * Math.sin(t * 2 * Math.PI * 1.5);
  w[BLENDSHAPE_INDEX.mouthSmileLeft] = w[BLENDSHAPE_INDEX.mouthSmileRight] = 0.3;
  return {
    seq, timestampUs: nowUs(), flags: FLAGS.FACE_PRESENT,
    rotation: [0.1 * Math.sin(t * 0.7), 0.3 * Math.sin(t * 0.9), 0.08 * Math.sin(t * 0.5)],
    translation: [0, 0, 60],
    blendshapes: Uint8Array.from(w.map(quantizeUnit)), emotion: null,
  };
}

const hex = (/** @type {Uint8Array} */ b) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

function main() {
  const form = /** @type {HTMLFormElement} */ ($("join-form"));
  const nameInput = /** @type {HTMLInputElement} */ ($("name"));
  const roomInput = /** @type {HTMLInputElement} */ ($("room"));
  const fragmentRoom = new URLSearchParams(location.hash.slice(1)).get("room");
  if (fragmentRoom) roomInput.value = fragmentRoom;
  nameInput.value = localStorage.getItem("avatarchat.name") ?? "";
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const room = roomFrom(roomInput.value);
    if (!validRoom(room)) {
      $("join-error").textContent = "That is not a room code (22-64 letters, digits, - or _).";
      return;
    }
    localStorage.setItem("avatarchat.name", nameInput.value);
    join(nameInput.value.trim() || "guest", room);
  });
}

/** @param {string} name @param {string} room */
function join(name, room) {
  const joinedAt = performance.now();
  $("join-form").hidden = true;
  $("call").hidden = false;
  const view = new AvatarView(/** @type {HTMLCanvasElement} */ ($("peer")));
  view.start();
  const log = $("chat-log");
  const addChat = (/** @type {string} */ text, /** @type {string} */ from, /** @type {boolean} */ mine) => {
    const li = document.createElement("li");
    li.textContent = `${from}: ${text}`; // text, never HTML
    if (mine) li.className = "me";
    log.append(li);
    log.scrollTop = log.scrollHeight;
    debug.chats.push({ text, from: mine ? "me" : "peer" });
  };
  let peerName = "peer";
  let bytesLast = 0;
  // The relay's WebSocket beside the page (a proxy may serve both under a path prefix).
  const ws = new URL("ws", location.href);
  ws.protocol = location.protocol === "https:" ? "wss:" : "ws:";
  ws.hash = "";
  const call = new Call({ wsUrl: ws.href, room, name, avatarId: "aria" }, {
    onState: (state, detail) => {
      debug.state = state; debug.detail = detail;
      if (state === "connected" && debug.setupMs === null) debug.setupMs = performance.now() - joinedAt;
      $("state").textContent = detail || state;
    },
    onFrame: (frame, bytes) => {
      view.update(frame);
      debug.framesReceived += 1; debug.lastFrame = { ...frame, blendshapes: Array.from(frame.blendshapes) };
      bytesLast = bytes;
    },
    onChat: (text) => addChat(text, peerName, false),
    onSas: (sas) => { debug.sas = sas; $("sas").textContent = sas; },
    onHello: (hello) => { debug.peerHello = hello; peerName = String(hello.name || "peer"); },
    onBye: (reason) => { debug.peerBye = reason; },
  });
  debug.call = call;
  debug.view = view;
  call.start();

  let seq = 0;
  const t0 = performance.now();
  setInterval(() => {
    const frame = syntheticFrame((performance.now() - t0) / 1000, seq);
    const data = call.sendFrame(frame);
    if (data) {
      debug.sent[seq] = hex(data);
      delete debug.sent[seq - 300];
      seq += 1;
    }
  }, 1000 / SEND_HZ);

  let last = { rx: 0, tx: 0, render: 0, t: performance.now() };
  setInterval(() => {
    const now = performance.now();
    const dt = (now - last.t) / 1000;
    const s = call.stats;
    $("stat-rx").textContent = `${((s.framesReceived - last.rx) / dt).toFixed(0)} fps`;
    $("stat-tx").textContent = `${((s.framesSent - last.tx) / dt).toFixed(0)} fps`;
    $("stat-render").textContent = `${((view.frames - last.render) / dt).toFixed(0)} fps`;
    $("stat-rtt").textContent = call.rttMs === null ? "–" : `${call.rttMs.toFixed(1)} ms`;
    $("stat-bytes").textContent = bytesLast ? `${bytesLast} B` : "–";
    debug.rttMs = call.rttMs; debug.renderFrames = view.frames;
    last = { rx: s.framesReceived, tx: s.framesSent, render: view.frames, t: now };
  }, 1000);

  /** @type {HTMLFormElement} */ ($("chat-form")).addEventListener("submit", (e) => {
    e.preventDefault();
    const input = /** @type {HTMLInputElement} */ ($("chat-input"));
    const text = input.value;
    if (text && call.chat(text)) { addChat(text, name, true); input.value = ""; }
  });
  $("hangup").addEventListener("click", () => call.hangup());
  // Emotion presets (protocol.frame.Emotion): buttons, or keys 0-4 outside the chat field.
  const emotion = (/** @type {number} */ preset) => call.emotion(preset, preset === 0 ? 0 : 1);
  for (const button of $("emotions").querySelectorAll("button")) {
    button.addEventListener("click", () => emotion(Number(button.dataset.preset)));
  }
  document.addEventListener("keydown", (e) => {
    if (e.target instanceof HTMLInputElement || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key >= "0" && e.key <= "4") emotion(Number(e.key));
  });
}

main();
