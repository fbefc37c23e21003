// The page's language: English (the msgids themselves) or Korean (web/i18n/ko.json, written by
// `python -m i18n compile` from the TUI's gettext catalog plus the page's own web.po; see
// i18n/web.py). Which: the switch's choice saved in localStorage, else the first of the
// browser's languages (navigator.languages) we have, else English.
//
// Strings are marked for extraction: `t("English {name}", {name})` in modules, `data-i18n`
// (text) and `data-i18n-attrs="aria-label placeholder"` in index.html. Translations are set as
// text (textContent, attributes), never HTML, and a `{name}` value is inserted as given, so
// peer-supplied text passed as a parameter stays text.

export const LANGUAGES = /** @type {const} */ (["en", "ko"]);
export const LANG_KEY = "avatarchat.lang";

/** @type {Record<string, string>} */
let table = {};
let current = "en";

/** `en`/`ko` from a BCP 47 tag ("ko-KR" -> "ko"); null for a language we lack. @param {string} tag */
export function normalize(tag) {
  const code = String(tag).trim().toLowerCase().split(/[-_]/)[0];
  return LANGUAGES.includes(/** @type {"en"} */ (code)) ? code : null;
}

/** The language to show: the saved choice, else the browser's first we have, else English.
 * @param {string | null} saved @param {readonly string[]} browser */
export function pickLanguage(saved, browser) {
  const chosen = saved ? normalize(saved) : null;
  if (chosen) return chosen;
  for (const tag of browser) {
    const lang = normalize(tag);
    if (lang) return lang;
  }
  return "en";
}

/** What t() made lately: its text -> [msgid, params], so a notice showing that text can be
 * said again in another language (liveText) whichever module translated it. */
/** @type {Map<string, [string, Record<string, unknown> | undefined]>} */
const made = new Map();
const MADE_MAX = 256;

/** The current language's text for `msgid`, `{key}`s replaced from `params`.
 * @param {string} msgid @param {Record<string, unknown>} [params] */
export function t(msgid, params) {
  const template = table[msgid] ?? msgid;
  const text = params
    ? template.replace(/\{(\w+)\}/g, (whole, key) => (key in params ? String(params[key]) : whole))
    : template;
  made.delete(text);
  made.set(text, [msgid, params]);
  if (made.size > MADE_MAX) made.delete(/** @type {string} */ (made.keys().next().value));
  return text;
}

/** `text` again in the current language if t() made it (its parameters too, when they were
 * t()'s texts themselves), else as it is (a peer's words, a browser's error message).
 * @param {string} text @returns {string} */
function again(text) {
  const origin = made.get(text);
  if (!origin) return text;
  const [msgid, params] = origin;
  if (!params) return t(msgid);
  return t(msgid, Object.fromEntries(Object.entries(params).map(
    ([k, v]) => [k, typeof v === "string" ? again(v) : v])));
}

/** Elements whose text the page sets (notices, the mute button): -> the text shown. */
/** @type {Map<Element, string>} */
const liveEls = new Map();

/**
 * Show `text` (usually a t() result) in `el` and keep it in the language the page shows: a
 * language switch says it again (translatePage leaves such an element to this). Text not made
 * by t() (peer text) is shown as given and stays so.
 * @param {Element} el @param {string} text
 */
export function liveText(el, text) {
  el.textContent = text;
  liveEls.set(el, text);
}

/** `msgid` as meant in `context` (gettext's msgctxt: "Send" a chat message, not "sent" fps).
 * @param {string} context @param {string} msgid */
export function pt(context, msgid) { return table[`${context}\u0004${msgid}`] ?? msgid; }

/** Marks a text for extraction without translating it (tables looked up later with t()).
 * @param {string} msgid */
export function N_(msgid) { return msgid; }

export function currentLanguage() { return current; }

/** Switch to `lang` (its table fetched from this origin); English needs none.
 * @param {string} lang */
export async function setLanguage(lang) {
  const wanted = normalize(lang) ?? "en";
  let next = {};
  if (wanted !== "en") {
    const response = await fetch(new URL(`i18n/${wanted}.json`, import.meta.url));
    if (!response.ok) throw new Error(`no ${wanted} texts (${response.status})`);
    next = await response.json();
  }
  table = next;
  current = wanted;
  if (typeof document !== "undefined") {
    document.documentElement.lang = wanted;
    translatePage(document);
    for (const [el, text] of liveEls) {
      if (!el.isConnected) { liveEls.delete(el); continue; }
      liveText(el, again(text));
    }
    for (const fn of listeners) fn();
  }
  return wanted;
}

/** @type {Set<() => void>} */
const listeners = new Set();
/** Run `fn` now and after every language switch (for text the page sets itself).
 * @param {() => void} fn */
export function live(fn) { listeners.add(fn); fn(); }

/** The English of every marked element and attribute, read once (translation replaces it). */
const english = new WeakMap();

/** Translate the marked elements under `root` (index.html's static text). @param {ParentNode} root */
export function translatePage(root) {
  for (const el of root.querySelectorAll("[data-i18n], [data-i18n-attrs]")) {
    let orig = english.get(el);
    if (!orig) {
      orig = { text: "", context: el.getAttribute("data-i18n-context") ?? "", attrs: /** @type {Record<string, string>} */ ({}) };
      if (el.hasAttribute("data-i18n")) orig.text = (el.textContent ?? "").replace(/\s+/g, " ").trim();
      for (const name of (el.getAttribute("data-i18n-attrs") ?? "").split(/\s+/).filter(Boolean)) {
        orig.attrs[name] = (el.getAttribute(name) ?? "").replace(/\s+/g, " ").trim();
      }
      english.set(el, orig);
    }
    // An element the page has set text in since (liveText) keeps that text, said again.
    if (orig.text && !liveEls.has(el)) el.textContent = orig.context ? pt(orig.context, orig.text) : t(orig.text);
    for (const [name, msgid] of Object.entries(orig.attrs)) el.setAttribute(name, t(msgid));
  }
}

/** The page's language at load: saved choice or the browser's. */
export function startLanguage() {
  let saved = null;
  try { saved = localStorage.getItem(LANG_KEY); } catch { /* storage off: not saved */ }
  return setLanguage(pickLanguage(saved, navigator.languages ?? [navigator.language]));
}

/** The visible switch: a <select> whose choice is saved and applied at once.
 * @param {HTMLSelectElement} select */
export function bindSwitch(select) {
  select.value = current;
  select.addEventListener("change", () => {
    try { localStorage.setItem(LANG_KEY, select.value); } catch { /* not saved */ }
    setLanguage(select.value).catch(() => {});
  });
}
