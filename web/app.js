// The page: join form -> call view. The room code arrives in the URL fragment (#room=CODE),
// which browsers never send to a server, so it stays out of every log on the way.
//
// Until face tracking runs in the page, the frames sent are a synthetic animation (head
// sway, blinks, talking mouth): the UI says so. Peer text is only ever set as textContent.
//
// Avatars are the real packs drawn with WebGL: ours (picked on the join form from the
// built-ins' previews, or a pack .zip the user brings, sent to the peer by outbox.js) in the
// small self-view, driven by the frames we send; the peer's large,
// the built-in its hello names, or its own pack received over ctl (a bad one is refused with a
// message and the peer stays drawn with a built-in).

import { Call, nowUs, validRoom } from "./wire.js";
import { AvatarView } from "./avatar.js";
import { builtinIndex, loadBuiltin, packFromZip } from "./pack.js";
import { BLENDSHAPE_INDEX, NUM_BLENDSHAPES } from "./blendshapes.js";
import { FLAGS, quantizeUnit } from "./frame.js";
import { FaceSource } from "./tracking_camera.js";
import { bindSwitch, live, liveText, startLanguage, t } from "./i18n.js";

const SEND_HZ = 30;
/** The built-in every client has: what a peer is drawn with until (or unless) its own pack is. */
const FALLBACK_AVATAR = "aria";
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
  /** @type {AvatarView | null} */ selfView: null,
  /** what the peer is drawn with: {id, hash, source: "builtin" | "received" | "fallback"} */
  peerAvatar: /** @type {{id: string, hash: string, source: string} | null} */ (null),
  avatarNote: "",
  /** frames per second of the page's own face tracking (set by the tracker), null without */
  trackingFps: /** @type {number | null} */ (null),
  e2eP50Ms: /** @type {number | null} */ (null),
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

/** @type {Promise<{id: string, files: string[]}[]>} */
const packIndex = builtinIndex().catch(() => []);
/** @type {Map<string, Promise<import("./pack.js").Pack>>} */
const builtins = new Map();
/** A built-in pack, fetched and parsed once. @param {string} id */
async function builtin(id) {
  let pending = builtins.get(id);
  if (!pending) {
    const entry = (await packIndex).find((p) => p.id === id);
    if (!entry) throw new Error(`no built-in avatar ${id}`);
    pending = loadBuiltin(entry);
    builtins.set(id, pending);
  }
  return pending;
}

/** The avatar picker: one radio per built-in with its preview. */
async function fillAvatars() {
  const box = $("avatars");
  const saved = localStorage.getItem("avatarchat.avatar") ?? FALLBACK_AVATAR;
  const packs = await packIndex;
  if (!packs.length) { live(() => { $("avatars-error").textContent = t("The relay serves no avatars."); }); return; }
  for (const p of packs) {
    const label = document.createElement("label");
    const input = document.createElement("input");
    input.type = "radio"; input.name = "avatar"; input.value = p.id;
    input.checked = p.id === saved || (p.id === FALLBACK_AVATAR && !packs.some((q) => q.id === saved));
    const img = document.createElement("img");
    img.alt = ""; img.src = `packs/${p.id}/preview.png`;
    const name = document.createElement("span");
    name.textContent = p.id;
    label.append(input, img, name);
    box.append(label);
  }
}

/** Camera and microphone lists (labels appear once the page may use the devices). */
async function fillDevices() {
  if (!navigator.mediaDevices?.enumerateDevices) return;
  const devices = await navigator.mediaDevices.enumerateDevices().catch(() => []);
  const numbered = { camera: (/** @type {number} */ n) => t("camera {n}", { n }), mic: (/** @type {number} */ n) => t("microphone {n}", { n }) };
  for (const [kind, id] of /** @type {const} */ ([["videoinput", "camera"], ["audioinput", "mic"]])) {
    const select = /** @type {HTMLSelectElement} */ ($(id));
    const saved = localStorage.getItem(`avatarchat.${id}`) ?? "";
    devices.filter((d) => d.kind === kind && d.deviceId && d.deviceId !== "default").forEach((d, i) => {
      const option = document.createElement("option");
      option.value = d.deviceId;
      option.textContent = d.label || numbered[id](i + 1);
      option.selected = d.deviceId === saved;
      select.append(option);
    });
  }
}

/** The devices and avatar chosen on the form (the tracker reads `camera`); `custom`: a pack
 * the user brought as a .zip, checked, drawn and sent to the peer instead of a built-in. */
export const choices = {
  avatar: FALLBACK_AVATAR, camera: "", mic: "", voice: true,
  custom: /** @type {import("./pack.js").Pack | null} */ (null),
};

/** The join form's own pack: read, checked with pack.js's rules, or refused with why.
 * @param {HTMLInputElement} input */
async function choosePack(input) {
  const file = input.files?.[0];
  choices.custom = null;
  if (!file) { liveText($("pack-note"), ""); return; }
  try {
    choices.custom = await packFromZip(new Uint8Array(await file.arrayBuffer()));
    // The pack replaces the built-in: no radio stays checked as if it were the choice.
    for (const radio of document.querySelectorAll("input[name=avatar]")) /** @type {HTMLInputElement} */ (radio).checked = false;
    liveText($("pack-note"), t("Your pack {id} is checked; the peer gets it in the call.", { id: choices.custom.id }));
  } catch (e) {
    input.value = "";
    liveText($("pack-note"), t("That pack cannot be used: {error}", { error: e instanceof Error ? e.message : e }));
  }
}

function main() {
  const form = /** @type {HTMLFormElement} */ ($("join-form"));
  fillAvatars().catch(() => {});
  fillDevices().catch(() => {});
  const nameInput = /** @type {HTMLInputElement} */ ($("name"));
  const roomInput = /** @type {HTMLInputElement} */ ($("room"));
  const fragmentRoom = new URLSearchParams(location.hash.slice(1)).get("room");
  if (fragmentRoom) roomInput.value = fragmentRoom;
  nameInput.value = localStorage.getItem("avatarchat.name") ?? "";
  const packFile = /** @type {HTMLInputElement} */ ($("pack-file"));
  packFile.addEventListener("change", () => { choosePack(packFile).catch(() => {}); });
  // Picking a built-in afterwards puts the own pack aside.
  $("avatars").addEventListener("change", () => {
    choices.custom = null; packFile.value = ""; liveText($("pack-note"), "");
  });
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const room = roomFrom(roomInput.value);
    if (!validRoom(room)) {
      liveText($("join-error"), t("That is not a room code (22-64 letters, digits, - or _)."));
      return;
    }
    localStorage.setItem("avatarchat.name", nameInput.value);
    const picked = /** @type {HTMLInputElement | null} */ (form.querySelector("input[name=avatar]:checked"));
    choices.avatar = picked?.value ?? FALLBACK_AVATAR;
    choices.camera = /** @type {HTMLSelectElement} */ ($("camera")).value;
    choices.mic = /** @type {HTMLSelectElement} */ ($("mic")).value;
    choices.voice = /** @type {HTMLInputElement} */ ($("voice")).checked;
    for (const key of /** @type {const} */ (["avatar", "camera", "mic"])) localStorage.setItem(`avatarchat.${key}`, choices[key]);
    join(nameInput.value.trim() || "guest", room).catch((err) => {
      liveText($("state"), t("error: {error}", { error: err instanceof Error ? err.message : err }));
    });
  });
}

/** @param {string} name @param {string} room */
async function join(name, room) {
  const joinedAt = performance.now();
  $("join-form").hidden = true;
  $("call").hidden = false;
  const view = new AvatarView(/** @type {HTMLCanvasElement} */ ($("peer")));
  // Our own small preview: 30 draws a second at most (our frames come no faster), so the
  // face tracker keeps the CPU a software GL would spend on it (web/README.md).
  const selfView = new AvatarView(/** @type {HTMLCanvasElement} */ ($("self")), { maxFps: SEND_HZ });
  debug.view = view; debug.selfView = selfView;
  view.start(); selfView.start();
  // Without WebGL the call goes on undrawn, and the note says so whatever else it said.
  const noGl = () => (view.error ? t("Avatars cannot be drawn here ({error}); the call works without them.", { error: view.error }) : "");
  const note = (/** @type {string} */ text) => {
    debug.avatarNote = text || noGl();
    liveText($("avatar-note"), debug.avatarNote);
  };
  note("");
  // Our own avatar: its content hash goes in the hello, as a Python peer's does. It loads
  // while the call connects (the hello waits for it), so it adds nothing to the set-up time.
  const ownLoaded = (choices.custom ? Promise.resolve(choices.custom) : builtin(choices.avatar)).then(async (own) => {
    Object.assign(call.opts, { avatarId: own.id, avatarVersion: own.version, avatarHash: own.hash });
    call.outbox.offer(choices.custom); // a custom pack is sent to a peer that asks for it
    await selfView.setPack(own);
  }).catch((e) => note(t("Your avatar could not be loaded: {error}", { error: e instanceof Error ? e.message : e })));
  // The peer is drawn with the fallback until its hello names its avatar.
  builtin(FALLBACK_AVATAR).then((p) => { if (!debug.peerAvatar) view.setPack(p); }).catch(() => {});
  /** The peer's avatar (hello or switch): the built-in of that id when its hash matches (or
   * none is given), else ask for the peer's own pack and draw a built-in meanwhile.
   * @param {string} id @param {string} hash */
  const peerAvatar = async (id, hash) => {
    const known = (await packIndex).some((p) => p.id === id);
    const shown = await builtin(known ? id : FALLBACK_AVATAR);
    if (known && (!hash || hash.toLowerCase() === shown.hash)) {
      debug.peerAvatar = { id, hash: shown.hash, source: "builtin" };
      await view.setPack(shown);
      note("");
      return;
    }
    debug.peerAvatar = { id: shown.id, hash: shown.hash, source: "fallback" };
    await view.setPack(shown);
    note(t("Receiving the peer's avatar {id}…", { id }));
    call.inbox.request(id, hash);
  };
  const log = $("chat-log");
  const addChat = (/** @type {string} */ text, /** @type {string} */ from, /** @type {boolean} */ mine) => {
    const li = document.createElement("li");
    li.textContent = `${from}: ${text}`; // text, never HTML
    if (mine) li.className = "me";
    log.append(li);
    log.scrollTop = log.scrollHeight;
    debug.chats.push({ text, from: mine ? "me" : "peer" });
  };
  let peerName = t("peer");
  let bytesLast = 0;
  // The relay's WebSocket beside the page (a proxy may serve both under a path prefix), at
  // /ws?room=CODE as a Python peer connects: deploy/nginx hashes the room onto one relay.
  const ws = new URL("ws", location.href);
  ws.protocol = location.protocol === "https:" ? "wss:" : "ws:";
  ws.hash = "";
  ws.search = new URLSearchParams({ room }).toString();
  const call = new Call({
    wsUrl: ws.href, room, name, avatarId: choices.avatar, voice: choices.voice, micId: choices.mic,
    helloAfter: ownLoaded,
  }, {
    onState: (state, detail) => {
      debug.state = state; debug.detail = detail;
      if (state === "ended") debug.face?.stop(); // the camera goes off with the call
      if (state === "connected" && debug.setupMs === null) debug.setupMs = performance.now() - joinedAt;
      showState();
    },
    onFrame: (frame, bytes) => {
      view.update(frame);
      debug.framesReceived += 1; debug.lastFrame = { ...frame, blendshapes: Array.from(frame.blendshapes) };
      bytesLast = bytes;
    },
    onChat: (text) => addChat(text, peerName, false),
    onSas: (sas) => { debug.sas = sas; $("sas").textContent = sas; },
    onHello: (hello) => { debug.peerHello = hello; peerName = String(hello.name || t("peer")); },
    onBye: (reason) => { debug.peerBye = reason; },
    onPeerAvatar: (id, hash) => { peerAvatar(id, hash).catch((e) => note(String(e))); },
    onPeerPack: (pack) => {
      view.setPack(pack).then(() => {
        debug.peerAvatar = { id: pack.id, hash: pack.hash, source: "received" };
        note("");
      }).catch((e) => note(t("The peer's avatar could not be drawn: {error}", { error: e instanceof Error ? e.message : e })));
    },
    onPackRefused: (message) => note(t("{reason} (drawn with a built-in)", { reason: message })),
  });
  debug.call = call;
  // The state line again in the new language when the switch changes it.
  const showState = () => {
    const { msgid, params } = call.stateDetail;
    $("state").textContent = msgid ? t(msgid, params) : call.state;
  };
  live(() => { if (call.state !== "idle") showState(); });
  call.start();
  const mute = $("mute");
  mute.hidden = !choices.voice;
  mute.addEventListener("click", () => {
    call.setMuted(!call.muted);
    mute.setAttribute("aria-pressed", String(call.muted));
    liveText(mute, call.muted ? t("Unmute") : t("Mute"));
  });

  let seq = 0;
  // The camera's tracked face (tracking_camera.js); the labelled synthetic animation until it
  // runs, or for good without a camera.
  const face = new FaceSource({
    deviceId: choices.camera, sendHz: SEND_HZ, synthetic: (t) => syntheticFrame(t, seq),
    onStatus: (text) => { liveText($("placeholder-note"), text); },
    onFps: (fps) => { debug.trackingFps = fps; },
    send: (content) => {
      const frame = { ...content, seq };
      const data = call.sendFrame(frame);
      selfView.update(frame);
      if (data) {
        debug.sent[seq] = hex(data);
        delete debug.sent[seq - 300];
        seq += 1;
      }
    },
  });
  debug.face = face;

  let last = { rx: 0, tx: 0, render: 0, t: performance.now() };
  setInterval(() => {
    const now = performance.now();
    const dt = (now - last.t) / 1000;
    const s = call.stats;
    $("stat-rx").textContent = `${((s.framesReceived - last.rx) / dt).toFixed(0)} fps`;
    $("stat-tx").textContent = `${((s.framesSent - last.tx) / dt).toFixed(0)} fps`;
    $("stat-render").textContent = `${((view.shown - last.render) / dt).toFixed(0)} fps`;
    $("stat-rtt").textContent = call.rttMs === null ? "–" : `${call.rttMs.toFixed(1)} ms`;
    $("stat-bytes").textContent = bytesLast ? `${bytesLast} B` : "–";
    const p50 = call.e2ePercentile(0.5);
    debug.e2eP50Ms = p50;
    $("stat-latency").textContent = p50 === null ? "–" : `${p50.toFixed(1)} ms`;
    $("stat-tracking").textContent = debug.trackingFps === null ? "–" : `${debug.trackingFps.toFixed(0)} fps`;
    $("stat-voice").textContent = !call.audioAgreed ? t("off") : call.muted ? t("muted") : t("on");
    debug.rttMs = call.rttMs; debug.renderFrames = view.frames;
    last = { rx: s.framesReceived, tx: s.framesSent, render: view.shown, t: now };
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

// English stays on screen if the Korean texts cannot be fetched: the page still works.
startLanguage().catch(() => {}).finally(() => {
  bindSwitch(/** @type {HTMLSelectElement} */ ($("lang")));
  main();
});
