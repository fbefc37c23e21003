// One call from the page: the relay's signaling (protocol/signaling.py), one
// RTCPeerConnection with the negotiated `params` (id 0, unordered, maxRetransmits 0) and `ctl`
// (id 1, reliable) DataChannels of peer/connection.py, and the ctl conversation of
// peer/ctl_handler.py (hello, 1 Hz ping/pong, chat, emotion, bye).
//
// Who offers follows peer/negotiation.py: whoever joins a room where the peer is already
// present offers at once; the one that was waiting answers, and offers itself only if no offer
// came within SECOND_OFFER_DELAY_MS. An offer always replaces the current link. aiortc does
// not trickle ICE, so descriptions go out after gathering, candidates inside the SDP.

import { encodeCtl, decodeCtl, MAX_CHAT_CHARS, MAX_NAME_CHARS, CTL_VERSION } from "./ctl.js";
import { encodeFrame, decodeFrame } from "./frame.js";
import { certificateFingerprints, sdpFingerprint, shortAuthString } from "./sas.js";
import { PackInbox } from "./inbox.js";
import { PackOutbox } from "./outbox.js";
import { N_, t } from "./i18n.js";

export const SIGNAL_VERSION = 1;
export const CLIENT_NAME = "avatarchat-web/0.1";
export const SECOND_OFFER_DELAY_MS = 3000;
export const LOST_AFTER_MS = 2500;
const GATHER_TIMEOUT_MS = 3000;
const E2E_WINDOW = 3000;
const PARAMS_ID = 0;
const CTL_ID = 1;
const ROOM_CODE_RE = /^[A-Za-z0-9_-]{22,64}$/;

/** Microseconds on this page's monotonic clock (what frames and pings carry). */
export const nowUs = () => Math.round(performance.now() * 1000);

/** @param {string} code */
export function validRoom(code) { return ROOM_CODE_RE.test(code); }

/**
 * @typedef {Object} CallEvents
 * @property {(state: string, detail: string) => void} onState
 * @property {(frame: import("./frame.js").ParamFrame, bytes: number) => void} onFrame
 * @property {(text: string, sender: string) => void} onChat
 * @property {(sas: string) => void} onSas
 * @property {(hello: Record<string, unknown>) => void} onHello
 * @property {(reason: string) => void} onBye
 * @property {(avatarId: string, hash: string) => void} onPeerAvatar  hello or avatar_switch
 * @property {(pack: import("./pack.js").Pack) => void} onPeerPack  the peer's pack, received and checked
 * @property {(message: string) => void} onPackRefused  why the peer's own pack is not drawn
 */

/** The m= kinds of an SDP. @param {string} sdp */
export const sdpKinds = (sdp) => Array.from(sdp.matchAll(/^m=(\w+)/gm), (m) => m[1]);

/** Why an SDP breaks peer/connection.py's check_sdp, or "": exactly one m=application, at most
 * one m=audio and only where audio is allowed, never m=video. @param {string} sdp @param {boolean} audio */
export function sdpProblem(sdp, audio) {
  const kinds = sdpKinds(sdp);
  const allowed = audio ? ["application", "audio"] : ["application"];
  if (kinds.some((k) => !allowed.includes(k)) || kinds.filter((k) => k === "application").length !== 1
      || kinds.filter((k) => k === "audio").length > 1) {
    return t("refusing a description with {kinds}", { kinds: kinds.join(", ") || "-" });
  }
  return "";
}

export class Call {
  /**
   * @param {{wsUrl: string, room: string, name: string, avatarId: string, avatarVersion?: string,
   *   avatarHash?: string, voice?: boolean, micId?: string, helloAfter?: Promise<unknown>}} opts
   *   voice: offer and answer audio with the microphone (`micId`: a deviceId from
   *   enumerateDevices); helloAfter: the hello waits for it (our pack's hash being computed)
   * @param {CallEvents} events
   */
  constructor(opts, events) {
    this.opts = opts;
    this.ev = events;
    /** @type {WebSocket | null} */ this.ws = null;
    /** @type {RTCPeerConnection | null} */ this.pc = null;
    /** @type {RTCDataChannel | null} */ this.params = null;
    /** @type {RTCDataChannel | null} */ this.ctl = null;
    this.gen = 0; this.linkGen = 0; this.position = 0;
    this.state = "idle";
    /** what the state line says, untranslated (setState) */
    this.stateDetail = { msgid: "", params: /** @type {Record<string, unknown> | undefined} */ (undefined) };
    this.sas = "";
    this.ended = false;
    this.lastRx = 0;
    this.rttMs = /** @type {number | null} */ (null);
    /** The peer's clock minus ours (µs), from the lowest-RTT of the recent pongs (NTP-style). */
    this.offsetUs = /** @type {number | null} */ (null);
    /** @type {{rtt: number, offset: number}[]} */ this.clockSamples = [];
    /** Capture (peer) -> receive (here) per frame, ms, the last E2E_WINDOW frames. */
    /** @type {number[]} */ this.e2eMs = [];
    this.pingSeq = 0;
    /** @type {Map<number, number>} */ this.pings = new Map();
    this.chatId = 0;
    this.stats = { framesSent: 0, framesReceived: 0, bytesReceived: 0, badFrames: 0, badCtl: 0 };
    /** @type {RTCIceServer[]} */ this.iceServers = [];
    /** @type {ReturnType<typeof setTimeout> | null} */ this.offerTimer = null;
    /** @type {ReturnType<typeof setInterval> | null} */ this.tickTimer = null;
    /** @type {MediaStream | null} */ this.mic = null;
    /** @type {Promise<MediaStream> | null} */ this.micRequest = null;
    this.muted = false;
    /** True once both descriptions of the current link carry audio we send. */
    this.audioAgreed = false;
    /** The receiving half of pack transfer (peer/pack_inbox.py's rules). */
    this.inbox = new PackInbox({
      send: (kind, values) => this.sendCtl(kind, values),
      onPack: (pack) => this.ev.onPeerPack(pack),
      onRefused: (message) => this.ev.onPackRefused(message),
    });
    /** The sending half: our own pack, when the page brought one (outbox.js). */
    this.outbox = new PackOutbox({
      send: (kind, values) => this.sendCtl(kind, values),
      buffered: () => this.ctl?.bufferedAmount ?? 0,
      link: () => this.pc,
    });
  }

  /** `detail` is an N_-marked text (or one shown as it is), so the UI can show it again in
   * another language: `stateDetail` keeps it with its parameters.
   * @param {string} state @param {string} detail @param {Record<string, unknown>} [params] */
  setState(state, detail = "", params = undefined) {
    this.state = state;
    this.stateDetail = { msgid: detail, params };
    this.ev.onState(state, t(detail, params));
  }

  start() {
    const ws = new WebSocket(this.opts.wsUrl);
    this.ws = ws;
    this.setState("signaling", N_("connecting to the relay"));
    ws.onopen = () => this.signal({
      type: "join", room: this.opts.room, client: CLIENT_NAME, create: true,
    });
    ws.onmessage = (e) => {
      if (typeof e.data !== "string") return;
      let msg;
      try { msg = JSON.parse(e.data); } catch { return; }
      if (msg && msg.v === SIGNAL_VERSION) this.onSignal(msg).catch((err) => this.fail(err));
    };
    ws.onclose = () => {
      if (!this.ended && this.state !== "connected") this.setState("signaling", N_("relay closed"));
    };
    this.tickTimer = setInterval(() => this.tick(), 1000);
    if (this.opts.voice) this.microphone().catch(() => {});
  }

  /** @param {Record<string, unknown>} msg */
  signal(msg) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) {
      this.ws.send(JSON.stringify({ v: SIGNAL_VERSION, ...msg }));
    }
  }

  /** @param {unknown} err */
  fail(err) { this.setState("error", String(err instanceof Error ? err.message : err)); }

  /** @param {any} msg */
  async onSignal(msg) {
    switch (msg.type) {
      case "joined":
        this.position = msg.position;
        if (msg.turn) {
          this.iceServers = [{ urls: msg.turn.urls, username: msg.turn.username,
            credential: msg.turn.credential }];
        }
        if (msg.peer_present) { this.setState("connecting", N_("peer is here; sending an offer")); await this.offer(); }
        else this.setState("waiting", N_("in the room; waiting for the peer"));
        break;
      case "peer_joined":
        this.setState("connecting", N_("peer joined; negotiating"));
        this.scheduleOffer(SECOND_OFFER_DELAY_MS);
        break;
      case "peer_left":
        if (this.state !== "connected" && this.state !== "ended") {
          this.setState("waiting", N_("peer left the relay"));
        }
        break;
      case "offer":
        await this.answer(msg.sdp, msg.gen);
        break;
      case "answer":
        if (msg.gen === this.linkGen && this.pc && this.pc.signalingState === "have-local-offer") {
          const offeredAudio = sdpKinds(this.pc.localDescription?.sdp ?? "").includes("audio");
          const problem = sdpProblem(msg.sdp, offeredAudio);
          if (problem) { this.fail(problem); return; }
          await this.pc.setRemoteDescription({ type: "answer", sdp: msg.sdp });
          this.audioAgreed = offeredAudio && /^m=audio/m.test(msg.sdp) && !/^a=inactive/m.test(msg.sdp);
          await this.updateSas();
        }
        break;
      case "ice":
        if (msg.gen === this.linkGen && this.pc && msg.candidate) {
          await this.pc.addIceCandidate({ candidate: msg.candidate, sdpMid: msg.sdp_mid,
            sdpMLineIndex: msg.sdp_mline_index }).catch(() => {});
        }
        break;
      case "error":
        this.setState("error", N_("relay: {code}: {message}"), { code: msg.code, message: msg.message });
        break;
      default:
        break;
    }
  }

  /** @param {number} ms */
  scheduleOffer(ms) {
    if (this.offerTimer) clearTimeout(this.offerTimer);
    this.offerTimer = setTimeout(() => {
      this.offerTimer = null;
      if (this.state !== "connected" && !this.ended) this.offer().catch((e) => this.fail(e));
    }, ms);
  }

  /** A fresh RTCPeerConnection numbered `gen`, replacing the current one. @param {number} gen */
  newLink(gen) {
    this.closeLink();
    this.inbox.newLink();
    this.audioAgreed = false;
    this.linkGen = gen;
    this.gen = Math.max(this.gen, gen);
    const pc = new RTCPeerConnection({ iceServers: this.iceServers });
    this.pc = pc;
    this.params = pc.createDataChannel("params", { negotiated: true, id: PARAMS_ID,
      ordered: false, maxRetransmits: 0 });
    this.ctl = pc.createDataChannel("ctl", { negotiated: true, id: CTL_ID, ordered: true });
    for (const ch of [this.params, this.ctl]) {
      ch.binaryType = "arraybuffer";
      ch.onopen = () => this.checkOpen(pc);
    }
    this.params.onmessage = (e) => this.onParams(e.data);
    this.ctl.onmessage = (e) => this.onCtl(e.data);
    pc.ontrack = (e) => {
      const audio = /** @type {HTMLAudioElement | null} */ (document.getElementById("peer-audio"));
      if (audio) audio.srcObject = e.streams[0] ?? new MediaStream([e.track]);
    };
    pc.onconnectionstatechange = () => {
      if (pc === this.pc && (pc.connectionState === "failed") && !this.ended) {
        this.setState("peer_lost", N_("connection failed; renegotiating"));
        this.scheduleOffer(this.position === 1 ? 0 : SECOND_OFFER_DELAY_MS);
      }
    };
    return pc;
  }

  closeLink() {
    if (this.pc) { try { this.pc.close(); } catch { /* already closed */ } }
    this.pc = null; this.params = null; this.ctl = null;
  }

  /** @param {RTCPeerConnection} pc */
  async gathered(pc) {
    if (pc.iceGatheringState === "complete") return;
    await new Promise((resolve) => {
      const done = () => { if (pc.iceGatheringState === "complete") resolve(undefined); };
      pc.addEventListener("icegatheringstatechange", done);
      setTimeout(resolve, GATHER_TIMEOUT_MS);
    });
  }

  async offer() {
    const gen = this.gen + 1;
    const pc = this.newLink(gen);
    if (this.opts.voice) {
      // Page voice: we offer m=audio with the microphone (the Python peer answers it, inactive
      // when its own voice is off); without a microphone the offer stays data-only.
      const track = await this.microphone();
      if (pc !== this.pc) return;
      if (track) pc.addTransceiver(track, { direction: "sendrecv", streams: [/** @type {MediaStream} */ (this.mic)] });
    }
    await pc.setLocalDescription(await pc.createOffer());
    await this.gathered(pc);
    if (pc !== this.pc) return;
    this.signal({ type: "offer", sdp: pc.localDescription?.sdp ?? "", gen });
    this.scheduleOffer(6000); // unanswered (a relay restart lost it): offer again
  }

  /** @param {string} sdp @param {number} gen */
  async answer(sdp, gen) {
    const problem = sdpProblem(sdp, true); // audio is answered (inactive without voice); video never
    if (problem) { this.fail(problem); return; }
    if (this.offerTimer) { clearTimeout(this.offerTimer); this.offerTimer = null; }
    const pc = this.newLink(gen);
    await pc.setRemoteDescription({ type: "offer", sdp });
    for (const t of pc.getTransceivers()) {
      if (t.receiver.track.kind !== "audio") continue;
      // The peer offered voice: answer with the microphone when our voice is on and we may use
      // it; without voice the section is answered inactive (peer/connection.py's rule).
      const track = this.opts.voice === false ? null : await this.microphone();
      if (track) { await t.sender.replaceTrack(track); t.direction = "sendrecv"; this.audioAgreed = true; }
      else t.direction = this.opts.voice === false ? "inactive" : "recvonly";
    }
    await pc.setLocalDescription(await pc.createAnswer());
    await this.gathered(pc);
    if (pc !== this.pc) return;
    this.signal({ type: "answer", sdp: pc.localDescription?.sdp ?? "", gen });
    await this.updateSas();
  }

  /** @returns {Promise<MediaStreamTrack | null>} */
  async microphone() {
    if (!navigator.mediaDevices?.getUserMedia) return null;
    try {
      const audio = this.opts.micId ? { deviceId: { exact: this.opts.micId } } : true;
      // One request, shared: asked for at start so an offer never waits on it (a slow
      // permission would let the peer's own offer come first, without our audio).
      this.micRequest ??= navigator.mediaDevices.getUserMedia({ audio, video: false });
      this.mic = await this.micRequest;
      const track = this.mic.getAudioTracks()[0] ?? null;
      if (track) track.enabled = !this.muted;
      return track;
    } catch { return null; }
  }

  /** The SAS from both certificates' sha-256 fingerprints: the ones DTLS used once the link
   * is up, the SDPs' before (when they carry sha-256 at all). */
  async updateSas() {
    const pc = this.pc;
    if (!pc) return;
    let local = sdpFingerprint(pc.localDescription?.sdp ?? "");
    let remote = sdpFingerprint(pc.remoteDescription?.sdp ?? "");
    if (pc.sctp?.transport.state === "connected") {
      const certs = await certificateFingerprints(pc);
      local = certs.local ?? local;
      remote = certs.remote ?? remote;
    }
    if (!local || !remote || pc !== this.pc) return;
    this.sas = await shortAuthString(local, remote);
    this.ev.onSas(this.sas);
  }

  /** @param {RTCPeerConnection} pc */
  checkOpen(pc) {
    if (pc !== this.pc || this.params?.readyState !== "open" || this.ctl?.readyState !== "open") return;
    if (this.offerTimer) { clearTimeout(this.offerTimer); this.offerTimer = null; }
    this.lastRx = performance.now();
    this.pings.clear();
    this.setState("connected", N_("connected"));
    this.updateSas().catch(() => {});
    const link = this.pc;
    (this.opts.helloAfter ?? Promise.resolve()).finally(() => {
      if (link === this.pc) this.sendHello();
    });
  }

  sendHello() {
    this.sendCtl("hello", {
      name: this.opts.name.slice(0, MAX_NAME_CHARS), avatar_id: this.opts.avatarId,
      avatar_version: this.opts.avatarVersion ?? "", avatar_hash: this.opts.avatarHash ?? "",
      app_version: CLIENT_NAME, protocol: CTL_VERSION,
    });
  }

  /** @param {string} kind @param {Record<string, unknown>} values */
  sendCtl(kind, values) {
    if (this.ctl?.readyState !== "open") return false;
    this.ctl.send(encodeCtl(kind, values));
    return true;
  }

  /** @param {import("./frame.js").ParamFrame} frame @returns {Uint8Array | null} */
  sendFrame(frame) {
    if (this.state !== "connected" || this.params?.readyState !== "open") return null;
    if (this.params.bufferedAmount > 4096) return null; // drop, never queue (as the Python peer)
    const data = encodeFrame(frame);
    this.params.send(data);
    this.stats.framesSent += 1;
    return data;
  }

  /** @param {ArrayBuffer} data */
  onParams(data) {
    const received = nowUs();
    if (!(data instanceof ArrayBuffer)) { this.stats.badFrames += 1; return; }
    let frame;
    try { frame = decodeFrame(new Uint8Array(data)); } catch { this.stats.badFrames += 1; return; }
    this.lastRx = performance.now();
    this.stats.framesReceived += 1;
    this.stats.bytesReceived += data.byteLength;
    if (this.offsetUs !== null) {
      this.e2eMs.push((received - (frame.timestampUs - this.offsetUs)) / 1000);
      if (this.e2eMs.length > E2E_WINDOW) this.e2eMs.shift();
    }
    this.ev.onFrame(frame, data.byteLength);
  }

  /** @param {ArrayBuffer} data */
  onCtl(data) {
    if (this.state === "ended") return; // after a bye (a quitting peer sends a second one)
    const t4 = nowUs();
    if (!(data instanceof ArrayBuffer)) { this.stats.badCtl += 1; return; }
    let msg;
    try { msg = decodeCtl(new Uint8Array(data)); } catch { this.stats.badCtl += 1; return; }
    this.lastRx = performance.now();
    switch (msg.kind) {
      case "ping":
        this.sendCtl("pong", { seq: msg.seq, t1_us: msg.t1_us, t2_us: t4, t3_us: nowUs() });
        break;
      case "pong": {
        const t1 = this.pings.get(Number(msg.seq));
        if (t1 === undefined || t1 !== msg.t1_us) { this.stats.badCtl += 1; break; }
        this.pings.delete(Number(msg.seq));
        const t2 = Number(msg.t2_us), t3 = Number(msg.t3_us);
        const rtt = (t4 - t1 - (t3 - t2)) / 1000;
        this.rttMs = Math.max(0, rtt);
        this.clockSamples.push({ rtt, offset: ((t2 - t1) + (t3 - t4)) / 2 });
        if (this.clockSamples.length > 10) this.clockSamples.shift();
        this.offsetUs = this.clockSamples.reduce((a, b) => (b.rtt < a.rtt ? b : a)).offset;
        break;
      }
      case "hello":
        this.ev.onHello(msg);
        this.ev.onPeerAvatar(String(msg.avatar_id ?? ""), String(msg.avatar_hash ?? ""));
        break;
      case "avatar_switch":
        this.ev.onPeerAvatar(String(msg.avatar_id ?? ""), String(msg.avatar_hash ?? ""));
        break;
      case "avatar_chunk":
        if (!this.inbox.chunk(msg)) this.stats.badCtl += 1;
        break;
      case "avatar_unavailable":
        this.inbox.unavailable(msg);
        break;
      case "chat":
        if (typeof msg.text === "string") this.ev.onChat(msg.text, "peer");
        break;
      case "avatar_request": // our custom pack if we brought one (a built-in every peer has)
        this.outbox.request(msg);
        break;
      case "bye":
        this.setState("ended", N_("peer hung up ({reason})"), { reason: String(msg.reason || "bye") });
        this.ev.onBye(String(msg.reason || "bye"));
        this.closeLink();
        break;
      default: break;
    }
  }

  tick() {
    if (this.state !== "connected") return;
    if (!this.sas) this.updateSas().catch(() => {}); // the certificate stats can lag the open
    if (performance.now() - this.lastRx > LOST_AFTER_MS) {
      this.setState("peer_lost", N_("no frames or messages from the peer"));
      this.closeLink();
      this.scheduleOffer(this.position === 1 ? 0 : SECOND_OFFER_DELAY_MS);
      return;
    }
    this.pingSeq += 1;
    const t1 = nowUs();
    this.pings.set(this.pingSeq, t1);
    if (this.pings.size > 8) this.pings.delete(Math.min(...this.pings.keys()));
    this.sendCtl("ping", { seq: this.pingSeq, t1_us: t1 });
  }

  /** @param {string} text */
  chat(text) {
    this.chatId += 1;
    return this.sendCtl("chat", { msg_id: this.chatId, text: text.slice(0, MAX_CHAT_CHARS) });
  }

  /** Mute or unmute the microphone (the track stays, sending silence). @param {boolean} muted */
  setMuted(muted) {
    this.muted = muted;
    for (const t of this.mic?.getAudioTracks() ?? []) t.enabled = !muted;
  }

  /** Capture (peer) -> receive (here) latency percentile in ms, or null. @param {number} q 0..1 */
  e2ePercentile(q) {
    if (!this.e2eMs.length) return null;
    const sorted = [...this.e2eMs].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  }

  /** @param {number} preset @param {number} weight */
  emotion(preset, weight) { return this.sendCtl("emotion", { preset, weight }); }

  hangup() {
    if (this.ended) return;
    this.sendCtl("bye", { reason: "hangup" });
    this.signal({ type: "bye", reason: "hangup" });
    this.ended = true;
    if (this.tickTimer) clearInterval(this.tickTimer);
    if (this.offerTimer) clearTimeout(this.offerTimer);
    // Let the bye leave before the channels close.
    setTimeout(() => { this.closeLink(); this.ws?.close(); }, 200);
    this.mic?.getTracks().forEach((t) => t.stop());
    this.setState("ended", N_("you hung up"));
  }
}
