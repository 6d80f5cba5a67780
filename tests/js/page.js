'use strict';
// A jsdom page with the widget, for the widget's tests (not a test file itself).
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { JSDOM, CookieJar, ResourceLoader } = require('jsdom');

const ASSETS = path.join(__dirname, '../../wp-plugin/assets');
const SOURCE = fs.readFileSync(path.join(ASSETS, 'widget.js'), 'utf8');
const HEAD = fs.readFileSync(path.join(ASSETS, 'widget-head.js'), 'utf8');
const PAGE = 'http://127.0.0.1:8080/sample-page/';
const REST = 'http://127.0.0.1:8080/?rest_route=/secure-privacy/v1/consent';
const UUID4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const DAY = 864e5;
const SUBJECT = '2f1c7a52-9a43-4c1e-8d0b-3c5e7f9a1b2c';

// The texts the plugin sends (secure_privacy_banner_texts()).
const TEXTS = {
  title: 'We value your privacy',
  body: 'Demo uses cookies.',
  acceptAll: 'Accept all',
  rejectAll: 'Reject all',
  preferences: 'Preferences',
  save: 'Save choices',
  withdraw: 'Withdraw consent',
  open: 'Privacy settings',
  close: 'Close',
  privacyLink: 'Privacy policy',
  gpcNotice: 'Your browser sends a Global Privacy Control signal, so marketing stays off.',
  dntNotice: 'Your browser sends a Do Not Track signal, so marketing stays off.',
  policyNotice: 'Our privacy policy changes on {date}. We will ask for your consent again then.',
  blocked: 'This content is blocked until you allow: {categories}.',
  load: 'Load {service} — this allows {categories}',
  content: 'content',
  visitorId: 'Your visitor id, to quote if you ask to see or erase your records:',
  copy: 'Copy',
  copied: 'Copied.',
};

// The island lists the texts by position, in this order (SECURE_PRIVACY_ISLAND_TEXT_KEYS in
// frontend.php; widget.js's T_* constants).
const TEXT_KEYS = ['title', 'body', 'acceptAll', 'rejectAll', 'preferences', 'save', 'withdraw', 'open', 'close',
  'privacyLink', 'gpcNotice', 'dntNotice', 'policyNotice', 'blocked', 'load', 'content', 'visitorId', 'copy', 'copied'];

/** The island's list of texts from a {key: text} map, as secure_privacy_island() writes it. */
const textList = (texts) => TEXT_KEYS.map((k) => texts[k] ?? '');

/** An island as the plugin prints it; `over.texts` may be a {key: text} map. */
function siteConfig(over = {}) {
  const config = siteFields(over);
  if (config.texts && !Array.isArray(config.texts)) config.texts = textList(config.texts);
  return config;
}

function siteFields(over) {
  return {
    restUrl: REST,
    policyVersion: '1',
    nextPolicyVersion: '',
    nextPolicyEffective: '',
    policyNoticeDays: 30,
    bannerVersion: 'ab12cd34ef56ab78',
    language: 'en-US',
    privacyUrl: 'http://127.0.0.1:8080/privacy-policy/',
    lifetimeDays: 365,
    honorGpc: true,
    honorDnt: false,
    cookieSecure: false,
    position: 'bottom-right',
    categories: [
      { key: 'necessary', label: 'Necessary', description: 'Site basics. Always on.', required: true },
      { key: 'preferences', label: 'Preferences', description: 'Your settings.', required: false },
      { key: 'statistics', label: 'Statistics', description: 'Traffic measurement.', required: false },
      { key: 'marketing', label: 'Marketing', description: 'Ads.', required: false },
    ],
    categoryKeys: ['necessary', 'preferences', 'statistics', 'marketing'],
    texts: TEXTS,
    ...over,
  };
}

/**
 * Records every subresource the page asks for (scripts, frames) instead of fetching it; a
 * script's body pushes its URL to window.ran.
 */
class Recorder extends ResourceLoader {
  constructor(log) {
    super();
    this.log = log;
  }

  fetch(url, { element }) {
    this.log.push(url);
    const body = element && element.localName === 'script'
      ? `(window.ran = window.ran || []).push(${JSON.stringify(url)});` : '<!doctype html><p>embed</p>';
    const done = Promise.resolve(Buffer.from(body));
    done.abort = () => {};
    return done;
  }
}

/**
 * Load a page with the widget. `config` null leaves the config element out, a string is used
 * verbatim. `respond(call)` answers each fetch (default 202). `source` is the widget's code.
 * The <head> snippet is printed inline after the island, as the plugin always does (the widget
 * relies on it for Google Consent Mode); `head` (its code) also makes `requests` list what the
 * page asked the network for.
 */
async function loadPage({
  config = siteConfig(), body = '', jar = new CookieJar(), storage = {}, respond, gpc, dnt, setup,
  source = SOURCE, head = null,
} = {}) {
  const cfg = config === null ? ''
    : `<script type="application/json" id="sp-consent-config">${typeof config === 'string' ? config : JSON.stringify(config)}</script>`;
  const requests = [];
  const dom = new JSDOM(`<!doctype html><html lang="en"><head>${cfg}<script>${head || HEAD}</script></head><body><main><p>Page</p></main>${body}</body></html>`,
    { url: PAGE, cookieJar: jar, runScripts: 'dangerously', pretendToBeVisual: true, resources: head ? new Recorder(requests) : undefined });
  const w = dom.window;
  for (const [k, v] of Object.entries(storage)) if (v != null) w.localStorage.setItem(k, v);
  if (gpc) Object.defineProperty(w.navigator, 'globalPrivacyControl', { value: true, configurable: true });
  if (dnt) Object.defineProperty(w.navigator, 'doNotTrack', { value: '1', configurable: true });
  const calls = [];
  w.fetch = (url, init) => {
    const call = { url, init, body: JSON.parse(init.body) };
    calls.push(call);
    return respond ? respond(call) : Promise.resolve({ ok: true, status: 202 });
  };
  const events = [];
  for (const name of ['sp:consent', 'sp:change', 'wp_consent_type_defined']) {
    w.document.addEventListener(name, (e) => events.push([name, e.detail]));
  }
  if (setup) setup(w);
  w.eval(source); // like a deferred script: it waits for DOMContentLoaded itself
  if (w.document.readyState === 'loading') {
    await new Promise((resolve) => w.document.addEventListener('DOMContentLoaded', resolve));
  }
  const $ = (sel) => w.document.querySelector(sel);
  return {
    w, jar, calls, events, $, requests,
    $$: (sel) => [...w.document.querySelectorAll(sel)],
    click(action) {
      const el = $(`#sp-consent [data-sp-action="${action}"]`);
      assert.ok(el, `button ${action} present`);
      el.click();
    },
    key(key, opts = {}) {
      const target = w.document.activeElement || w.document.body;
      const e = new w.KeyboardEvent('keydown', { key, bubbles: true, cancelable: true, ...opts });
      target.dispatchEvent(e);
      return e.defaultPrevented;
    },
    cookie() {
      return jar.getCookiesSync(PAGE).find((c) => c.key === 'sp_consent');
    },
    stored() {
      return JSON.parse(decodeURIComponent(this.cookie().value));
    },
    pending() {
      return JSON.parse(w.localStorage.getItem('sp_consent_pending') || '[]');
    },
    consentUpdates() {
      return plain((w.dataLayer || []).map((a) => [...a]).filter((a) => a[0] === 'consent' && a[1] === 'update'));
    },
  };
}

// Objects made inside the jsdom realm have that realm's prototypes; compare them as JSON.
const plain = (x) => JSON.parse(JSON.stringify(x));
const settle = () => new Promise((r) => setTimeout(r, 0));
const isoDay = (ms) => new Date(ms).toISOString().slice(0, 10);

function consentCookie(state, maxAge = 31536000) {
  return `sp_consent=${encodeURIComponent(JSON.stringify(state))}; Max-Age=${maxAge}; Path=/; SameSite=Lax`;
}

function returningJar(over = {}) {
  const jar = new CookieJar();
  jar.setCookieSync(consentCookie({
    subject_id: SUBJECT,
    categories: { necessary: true, preferences: false, statistics: true, marketing: false },
    policy_version: '1',
    banner_version: 'ab12cd34ef56ab78',
    given_at: new Date().toISOString(),
    ...over,
  }), PAGE);
  return jar;
}

module.exports = {
  ASSETS, SOURCE, HEAD, PAGE, REST, UUID4, DAY, SUBJECT, TEXTS, TEXT_KEYS, textList, siteConfig, loadPage, plain, settle, isoDay,
  consentCookie, returningJar,
};
