// Receiving the peer's custom avatar pack over ctl: peer/pack_inbox.py's rules in the page.
//
// When the peer's hello (or a later avatar_switch) names a pack that is not one of the
// built-ins (or is one whose content hash differs), we send avatar_request; the peer sends the
// deterministic zip in 16 KiB avatar_chunk messages. A transfer whose size is over 8 MiB, whose
// chunk count does not match its size, or whose chunks come out of order is dropped; at most
// six distinct packs and 32 MiB of chunks per call (a peer cycling through made-up packs is
// stopped). The whole zip is kept only when its content hash equals the announced one and it
// parses as a pack (pack.js); anything else is a clear message, and the peer stays drawn with
// a built-in while the call goes on.

import { unzipPack, packFromFiles, contentHash } from "./pack.js";
import { t } from "./i18n.js";

export const AVATAR_CHUNK_BYTES = 16 * 1024;
export const MAX_AVATAR_PACK_BYTES = 8 * 1024 * 1024;
export const MAX_RECEIVED_PACKS_PER_CALL = 6;
export const MAX_RECEIVED_BYTES_PER_CALL = 32 * 1024 * 1024;
const DIGEST_RE = /^[0-9a-f]{64}$/;

/**
 * @typedef {Object} InboxEvents
 * @property {(kind: string, values: Record<string, unknown>) => boolean} send  a ctl message
 * @property {(pack: import("./pack.js").Pack) => void} onPack  a received pack, checked
 * @property {(message: string) => void} onRefused  why the peer's pack is not drawn
 */

export class PackInbox {
  /** @param {InboxEvents} ev */
  constructor(ev) {
    this.ev = ev;
    /** @type {{digest: string, avatarId: string, chunks: Uint8Array[], size: number, total: number} | null} */
    this.incoming = null;
    /** @type {Set<string>} */ this.requested = new Set();
    this.bytesReceived = 0;
    this.refused = 0;
  }

  /** A new link: a transfer on the old one is over (the peer's next hello starts again). */
  newLink() { this.incoming = null; }

  /** Ask for the pack with this content hash. @param {string} avatarId @param {string} digest */
  request(avatarId, digest) {
    digest = digest.toLowerCase();
    if (!DIGEST_RE.test(digest)) { this.refuse(t("the peer's avatar {id} has no content hash", { id: avatarId })); return; }
    if (this.incoming?.digest === digest) return;
    if (!this.requested.has(digest) && this.requested.size >= MAX_RECEIVED_PACKS_PER_CALL) {
      this.refuse(t("{n} different packs already received in this call", { n: MAX_RECEIVED_PACKS_PER_CALL }));
      return;
    }
    if (this.bytesReceived >= MAX_RECEIVED_BYTES_PER_CALL) { this.refuse(t("32 MiB already received")); return; }
    this.requested.add(digest);
    this.incoming = { digest, avatarId, chunks: [], size: 0, total: 0 };
    this.ev.send("avatar_request", { hash: digest });
  }

  /** @param {string} message */
  refuse(message) { this.refused += 1; this.incoming = null; this.ev.onRefused(message); }

  /** @param {Record<string, unknown>} msg avatar_unavailable */
  unavailable(msg) {
    if (this.incoming && this.incoming.digest === msg.hash) {
      this.refuse(t("the peer cannot send its avatar: {reason}", { reason: String(msg.reason ?? "").slice(0, 300) }));
    }
  }

  /** @param {Record<string, unknown>} msg avatar_chunk @returns {boolean} false: unsolicited or malformed */
  chunk(msg) {
    const inc = this.incoming;
    if (!inc || msg.hash !== inc.digest || !(msg.data instanceof Uint8Array)) return false;
    const size = Number(msg.size), total = Number(msg.total), index = Number(msg.index);
    const expected = size ? Math.ceil(size / AVATAR_CHUNK_BYTES) : 0;
    if (size > MAX_AVATAR_PACK_BYTES || total !== expected || index !== inc.chunks.length
        || (inc.total && (total !== inc.total || size !== inc.size)) || msg.data.length > AVATAR_CHUNK_BYTES) {
      this.refuse(t("the peer's avatar transfer was malformed or too large; keeping the built-in"));
      return false;
    }
    if (!inc.chunks.length && this.bytesReceived + size > MAX_RECEIVED_BYTES_PER_CALL) {
      this.refuse(t("the 32 MiB a call may receive would be exceeded"));
      return true;
    }
    this.bytesReceived += msg.data.length;
    inc.total = total; inc.size = size;
    inc.chunks.push(msg.data);
    if (inc.chunks.length < inc.total) return true;
    this.incoming = null;
    const data = new Uint8Array(size);
    let at = 0;
    for (const c of inc.chunks) {
      if (at + c.length > size) { this.refuse(t("the peer's avatar was longer than announced")); return false; }
      data.set(c, at); at += c.length;
    }
    if (at !== size) { this.refuse(t("the peer's avatar was shorter than announced")); return false; }
    this.install(data, inc.digest, inc.avatarId).catch(() => {});
    return true;
  }

  /** @param {Uint8Array} data @param {string} digest @param {string} avatarId */
  async install(data, digest, avatarId) {
    try {
      const files = unzipPack(data);
      const got = await contentHash(files); // first: only the announced content is looked at
      if (got !== digest) {
        throw new Error(`received pack hash ${got.slice(0, 16)}... does not match the announced ${digest.slice(0, 16)}...`);
      }
      this.ev.onPack(await packFromFiles(files));
    } catch (e) {
      this.refuse(t("the peer's avatar {id} was refused: {error}", { id: avatarId, error: e instanceof Error ? e.message : e }));
    }
  }
}
