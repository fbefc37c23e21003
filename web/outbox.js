// Sending our own pack over ctl: peer/ctl_handler.py's serving half in the page.
//
// The page may bring a custom 2D pack (a .zip picked on the join form, checked with pack.js's
// rules before it is offered). The hello then names its id, version and content hash; a peer
// that lacks it sends avatar_request with that hash and gets the pack as a deterministic zip
// (the pack's files, sorted, fixed times: what avatars.transfer.zip_source makes) in 16 KiB
// avatar_chunk messages, in order, paced like the Python peer's (_Pace: start at 256 KiB/s,
// grow while the ctl channel's queue drains, halve when it did not), so the params channel
// beside it keeps flowing. A request for anything but our current pack is answered
// avatar_unavailable; at most six transfers a minute and 4 x 48 MiB in a call (a peer asking on
// and on is ignored, unanswered, as the Python peer does).

import { zipSync } from "./vendor/fflate@0.8.3/browser.js";
import { AVATAR_CHUNK_BYTES, MAX_AVATAR_PACK_BYTES } from "./inbox.js";

export const MAX_PACK_TRANSFERS_PER_MINUTE = 6;
export const MAX_SERVED_BYTES_PER_CALL = 4 * 48 * 1024 * 1024;
const PACK_TRANSFER_WINDOW_S = 60;
const PACK_RATE_START = 256 * 1024, PACK_RATE_MIN = 32 * 1024;
const PACK_RATE_MAX = 4 * 1024 * 1024, PACK_RATE_STEP = 48 * 1024;
/** The zip epoch (1980-01-01 00:00), as avatars.transfer.ZIP_EPOCH: same files, same bytes. */
const ZIP_EPOCH = new Date(1980, 0, 1, 0, 0, 0);

/**
 * A pack's files as a zip with avatars.transfer.zip_source's layout: sorted names at the top
 * level, fixed times, PNGs stored (already deflated), the rest deflated. The receiver checks
 * the content hash of the files, not of the zip, so the zip need not match Python's bytes.
 * @param {Map<string, Uint8Array>} files @returns {Uint8Array}
 */
export function zipPack(files) {
  /** @type {Record<string, [Uint8Array, {level: 0 | 6, mtime: Date}]>} */
  const entries = {};
  for (const name of [...files.keys()].sort()) {
    entries[name] = [/** @type {Uint8Array} */ (files.get(name)),
      { level: name.endsWith(".png") ? 0 : 6, mtime: ZIP_EPOCH }];
  }
  return zipSync(entries);
}

/**
 * @typedef {Object} OutboxLink
 * @property {(kind: string, values: Record<string, unknown>) => boolean} send  a ctl message
 * @property {() => number} buffered  bytes queued on the ctl channel
 * @property {() => unknown} link  the current link (a new one stops a transfer)
 */

export class PackOutbox {
  /** @param {OutboxLink} link */
  constructor(link) {
    this.io = link;
    /** @type {{hash: string, id: string, zip: Uint8Array} | null} */ this.pack = null;
    /** @type {number[]} */ this.accepted = [];
    this.bytesServed = 0;
    this.refused = 0;
    this.sending = false;
    /** Transfers finished in full (for tests and stats). */
    this.sent = 0;
  }

  /** Offer `pack` (a custom one: its files zipped once) or nothing (a built-in, every peer has
   * it). @param {import("./pack.js").Pack | null} pack */
  offer(pack) {
    this.pack = pack ? { hash: pack.hash, id: pack.id, zip: zipPack(pack.files) } : null;
    if (this.pack && this.pack.zip.length > MAX_AVATAR_PACK_BYTES) this.pack = null;
  }

  /** The peer's avatar_request. @param {Record<string, unknown>} msg */
  request(msg) {
    const digest = String(msg.hash ?? "").slice(0, 64);
    if (!this.pack || digest !== this.pack.hash) {
      this.io.send("avatar_unavailable", { hash: digest, reason: "not my current avatar" });
      return;
    }
    const now = performance.now() / 1000;
    this.accepted = this.accepted.filter((t) => now - t < PACK_TRANSFER_WINDOW_S);
    if (this.sending || this.accepted.length >= MAX_PACK_TRANSFERS_PER_MINUTE) {
      this.refused += 1; // unanswered: an answer per request would itself be the flood
      return;
    }
    const data = this.pack.zip;
    if (this.bytesServed + data.length > MAX_SERVED_BYTES_PER_CALL) {
      this.refused += 1;
      this.io.send("avatar_unavailable", {
        hash: digest, reason: "my avatar was already sent several times in this call" });
      return;
    }
    this.accepted.push(now);
    this.bytesServed += data.length; // counted whole: a transfer cut short still cost
    this.sending = true;
    this.transfer(this.pack, this.io.link()).finally(() => { this.sending = false; });
  }

  /** @param {{hash: string, id: string, zip: Uint8Array}} pack @param {unknown} link */
  async transfer(pack, link) {
    const data = pack.zip;
    const total = Math.max(1, Math.ceil(data.length / AVATAR_CHUNK_BYTES));
    let rate = PACK_RATE_START, due = performance.now();
    const sleep = (/** @type {number} */ ms) => new Promise((r) => setTimeout(r, ms));
    for (let index = 0; index < total; index++) {
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      if (this.io.buffered() > 0) {
        rate = Math.max(PACK_RATE_MIN, rate / 2);
        while (this.io.buffered() > 0) await sleep(5);
      } else {
        rate = Math.min(PACK_RATE_MAX, rate + PACK_RATE_STEP);
      }
      due = performance.now() + (AVATAR_CHUNK_BYTES / rate) * 1000;
      if (link !== this.io.link() || this.pack?.hash !== pack.hash) return; // new link or pack
      const chunk = data.slice(index * AVATAR_CHUNK_BYTES, (index + 1) * AVATAR_CHUNK_BYTES);
      if (!this.io.send("avatar_chunk", { hash: pack.hash, index, total, size: data.length, data: chunk })) return;
    }
    this.sent += 1;
  }
}
