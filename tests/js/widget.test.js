'use strict';
// The widget in a jsdom page: what CONTRACT §7 promises a visitor and a test.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { JSDOM, CookieJar } = require('jsdom');

const SOURCE = fs.readFileSync(path.join(__dirname, '../../wp-plugin/assets/widget.js'), 'utf8');
const PAGE = 'http://127.0.0.1:8080/sample-page/';
const REST = 'http://127.0.0.1:8080/?rest_route=/secure-privacy/v1/consent';
const UUID4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

function siteConfig(over = {}) {
  return {
    restUrl: REST,
    policyVersion: '1',
    bannerVersion: 'ab12cd34ef56ab78',
    language: 'en-US',
    privacyUrl: 'http://127.0.0.1:8080/privacy-policy/',
    lifetimeDays: 365,
    honorGpc: true,
    honorDnt: false,
    cookieSecure: false,
    categories: [
      { key: 'necessary', label: 'Necessary', description: 'Site basics.', required: true },
      { key: 'preferences', label: 'Preferences', description: 'Your settings.' },
      { key: 'statistics', label: 'Statistics', description: 'Traffic measurement.' },
      { key: 'marketing', label: 'Marketing', description: 'Ads.' },
    ],
    texts: {},
    ...over,
  };
}

/**
 * Load a page with the widget. `config` null leaves the config element out, a
 * string is used verbatim. `respond(call)` answers each fetch (default 202).
 */
async function loadPage({ config = siteConfig(), body = '', jar = new CookieJar(), storage = {}, respond, gpc, dnt, setup } = {}) {
  const cfg = config === null ? ''
    : `<script type="application/json" id="sp-consent-config">${typeof config === 'string' ? config : JSON.stringify(config)}</script>`;
  const dom = new JSDOM(`<!doctype html><html lang="en"><body><main><p>Page</p></main>${body}${cfg}</body></html>`,
    { url: PAGE, cookieJar: jar, runScripts: 'dangerously' });
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
  w.document.addEventListener('sp:consent', (e) => events.push(['sp:consent', e.detail]));
  w.document.addEventListener('sp:change', (e) => events.push(['sp:change', e.detail]));
  if (setup) setup(w);
  w.eval(SOURCE); // like a deferred script: it waits for DOMContentLoaded itself
  if (w.document.readyState === 'loading') {
    await new Promise((resolve) => w.document.addEventListener('DOMContentLoaded', resolve));
  }
  const $ = (sel) => w.document.querySelector(sel);
  return {
    w, jar, calls, events, $,
    $$: (sel) => [...w.document.querySelectorAll(sel)],
    click(action) {
      const el = $(`#sp-consent [data-sp-action="${action}"]`);
      assert.ok(el, `button ${action} present`);
      el.click();
    },
    key(key, opts = {}) {
      const target = w.document.activeElement || w.document.body;
      target.dispatchEvent(new w.KeyboardEvent('keydown', { key, bubbles: true, cancelable: true, ...opts }));
    },
    cookie() {
      return jar.getCookiesSync(PAGE).find((c) => c.key === 'sp_consent');
    },
    pending() {
      return JSON.parse(w.localStorage.getItem('sp_consent_pending') || '[]');
    },
  };
}

// Objects made inside the jsdom realm have that realm's prototypes; compare them as JSON.
const plain = (x) => JSON.parse(JSON.stringify(x));
const settle = () => new Promise((r) => setTimeout(r, 0));

function consentCookie(state, maxAge = 31536000) {
  return `sp_consent=${encodeURIComponent(JSON.stringify(state))}; Max-Age=${maxAge}; Path=/; SameSite=Lax`;
}

function returningJar(over = {}) {
  const jar = new CookieJar();
  jar.setCookieSync(consentCookie({
    subject_id: '2f1c7a52-9a43-4c1e-8d0b-3c5e7f9a1b2c',
    categories: { necessary: true, preferences: false, statistics: true, marketing: false },
    policy_version: '1',
    banner_version: 'ab12cd34ef56ab78',
    given_at: new Date().toISOString(),
    ...over,
  }), PAGE);
  return jar;
}

test('a missing or invalid config renders nothing and throws nothing', async () => {
  for (const config of [null, '{not json', '']) {
    const p = await loadPage({ config });
    assert.equal(p.$('#sp-consent'), null);
    assert.equal(p.calls.length, 0);
  }
});

test('first visit shows the first layer as an accessible dialog', async () => {
  const p = await loadPage();
  const root = p.$('#sp-consent');
  assert.ok(root);
  assert.equal(root.parentNode, p.w.document.body);
  const dialog = p.$('#sp-consent [role="dialog"]');
  assert.equal(dialog.getAttribute('aria-modal'), 'true');
  assert.equal(p.$('#' + dialog.getAttribute('aria-labelledby')).textContent, 'We value your privacy');
  assert.match(p.$('#' + dialog.getAttribute('aria-describedby')).textContent, /cookies/);
  const buttons = p.$$('#sp-consent .sp-actions [data-sp-action]');
  assert.deepEqual(buttons.map((b) => [b.getAttribute('data-sp-action'), b.textContent, b.className]), [
    ['accept-all', 'Accept all', 'sp-btn'],
    ['reject-all', 'Reject all', 'sp-btn'],
    ['preferences', 'Preferences', 'sp-btn'],
  ]);
  assert.equal(dialog.querySelector('a').href, 'http://127.0.0.1:8080/privacy-policy/');
  assert.equal(p.$('[data-sp-action="withdraw"]'), null);
  assert.ok(p.$('[data-sp-action="open"]').hidden);
  assert.equal(p.$$('#sp-consent input').length, 0, 'no checkbox on the first layer');
  assert.ok(dialog.contains(p.w.document.activeElement), 'focus is inside the dialog');
  assert.equal(p.w.SecurePrivacy.getConsent(), null);
  assert.equal(p.calls.length, 0);
  assert.equal(p.cookie(), undefined);
});

test('texts from the config replace the defaults; no privacy link without privacyUrl', async () => {
  const p = await loadPage({ config: siteConfig({ privacyUrl: '', texts: { acceptAll: 'Godkänn alla' } }) });
  assert.equal(p.$('[data-sp-action="accept-all"]').textContent, 'Godkänn alla');
  assert.equal(p.$('[data-sp-action="reject-all"]').textContent, 'Reject all');
  assert.equal(p.$('#sp-consent a'), null);
  const evil = await loadPage({ config: siteConfig({ privacyUrl: 'javascript:alert(1)' }) });
  assert.equal(evil.$('#sp-consent a'), null);
});

test('preferences view: one unticked checkbox per category, necessary ticked and disabled', async () => {
  const p = await loadPage();
  p.click('preferences');
  const boxes = p.$$('#sp-consent input[data-sp-category]');
  assert.deepEqual(boxes.map((b) => [b.getAttribute('data-sp-category'), b.type, b.checked, b.disabled]), [
    ['necessary', 'checkbox', true, true],
    ['preferences', 'checkbox', false, false],
    ['statistics', 'checkbox', false, false],
    ['marketing', 'checkbox', false, false],
  ]);
  for (const b of boxes) {
    assert.equal(p.$(`label[for="${b.id}"]`).textContent.length > 0, true, 'visible label');
    assert.ok(p.$('#' + b.getAttribute('aria-describedby')).textContent, 'description');
  }
  assert.ok(p.$('[data-sp-action="save"]'));
  assert.equal(p.w.document.activeElement, boxes[1], 'focus on the first choice');
  p.key('Escape');
  assert.ok(p.$('[data-sp-action="preferences"]'), 'Escape goes back to the first layer');
  assert.equal(p.$('[data-sp-action="save"]'), null);
  assert.equal(p.w.document.activeElement, p.$('[data-sp-action="preferences"]'));
  p.key('Escape');
  assert.ok(p.$('[role="dialog"]'), 'the first visit cannot be escaped without a choice');
});

test('accept all sets the cookie, posts the decision and leaves the floating button', async () => {
  const p = await loadPage();
  p.click('accept-all');

  const c = p.cookie();
  assert.equal(c.path, '/');
  assert.equal(c.sameSite, 'lax');
  assert.equal(c.maxAge, 365 * 86400);
  assert.equal(c.secure, false);
  const stored = JSON.parse(decodeURIComponent(c.value));
  assert.deepEqual(Object.keys(stored), ['subject_id', 'categories', 'policy_version', 'banner_version', 'given_at']);
  assert.match(stored.subject_id, UUID4);
  assert.equal(new Date(stored.given_at).toISOString(), stored.given_at);

  assert.equal(p.calls.length, 1);
  const { url, init, body } = p.calls[0];
  assert.equal(url, REST);
  assert.equal(init.method, 'POST');
  assert.equal(init.credentials, 'same-origin');
  assert.equal(init.keepalive, true);
  assert.equal(init.headers['Content-Type'], 'application/json');
  assert.equal(init.headers['X-WP-Nonce'], undefined);
  assert.match(body.event_id, UUID4);
  assert.notEqual(body.event_id, stored.subject_id);
  assert.deepEqual({ ...body, event_id: 'E' }, {
    event_id: 'E',
    subject_id: stored.subject_id,
    action: 'grant',
    method: 'accept_all',
    categories: { necessary: true, preferences: true, statistics: true, marketing: true },
    page_url: PAGE,
    policy_version: '1',
    banner_version: 'ab12cd34ef56ab78',
    language: 'en-US',
    signals: { gpc: false, dnt: false },
  });

  assert.equal(p.$('[role="dialog"]'), null);
  const fab = p.$('[data-sp-action="open"]');
  assert.equal(fab.hidden, false);
  assert.equal(fab.getAttribute('aria-label'), 'Privacy settings');
  assert.equal(p.w.document.activeElement, fab, 'focus returns to the floating button');

  assert.deepEqual(plain(p.w.SecurePrivacy.getConsent()), stored);
  assert.deepEqual(p.events.map((e) => e[0]), ['sp:consent', 'sp:change']);
  assert.deepEqual(plain(p.events[0][1]), stored);
  await settle();
  assert.deepEqual(p.pending(), [], 'delivered events leave the queue');
});

test('the REST nonce is sent as X-WP-Nonce and Secure is set when configured', async () => {
  const p = await loadPage({ config: siteConfig({ restNonce: 'abc123', cookieSecure: true }) });
  p.click('reject-all');
  assert.equal(p.calls[0].init.headers['X-WP-Nonce'], 'abc123');
  assert.equal(p.calls[0].body.method, 'reject_all');
  assert.equal(p.events.filter((e) => e[0] === 'sp:change').length, 0, 'reject all first time changes nothing');
});

test('saving custom choices records only what was ticked', async () => {
  const p = await loadPage();
  p.click('preferences');
  p.$('input[data-sp-category="statistics"]').click();
  p.click('save');
  const body = p.calls[0].body;
  assert.equal(body.action, 'grant');
  assert.equal(body.method, 'custom');
  assert.deepEqual(body.categories, { necessary: true, preferences: false, statistics: true, marketing: false });
});

test('reopening offers withdraw; one click withdraws and keeps the floating button', async () => {
  const p = await loadPage();
  p.click('accept-all');
  const subject = p.calls[0].body.subject_id;
  p.click('open');
  assert.ok(p.$('[role="dialog"]'));
  assert.ok(p.$('[data-sp-action="open"]').hidden, 'no floating button over the open dialog');
  assert.equal(p.$('[data-sp-action="withdraw"]').textContent, 'Withdraw consent');
  p.click('preferences');
  assert.equal(p.$('input[data-sp-category="marketing"]').checked, true, 'previous grants are shown');
  p.click('withdraw');

  const body = p.calls[1].body;
  assert.equal(body.action, 'withdraw');
  assert.equal(body.method, 'withdraw');
  assert.equal(body.subject_id, subject, 'subject id is kept across choices');
  assert.notEqual(body.event_id, p.calls[0].body.event_id);
  assert.deepEqual(body.categories, { necessary: true, preferences: false, statistics: false, marketing: false });
  assert.deepEqual(JSON.parse(decodeURIComponent(p.cookie().value)).categories, body.categories);
  assert.equal(p.$('[role="dialog"]'), null);
  assert.equal(p.$('[data-sp-action="open"]').hidden, false);
  assert.deepEqual(p.events.map((e) => e[0]), ['sp:consent', 'sp:change', 'sp:consent', 'sp:change']);

  p.click('open');
  p.click('reject-all');
  assert.equal(p.calls[2].body.action, 'update');
  assert.equal(p.events.length, 5, 'same categories again: sp:consent without sp:change');
});

test('Escape closes a reopened dialog and focus returns to the floating button', async () => {
  const p = await loadPage({ jar: returningJar() });
  p.click('open');
  p.click('preferences');
  p.key('Escape');
  assert.equal(p.$('[role="dialog"]'), null);
  assert.equal(p.w.document.activeElement, p.$('[data-sp-action="open"]'));
  p.click('open');
  p.click('close');
  assert.equal(p.$('[role="dialog"]'), null);
  assert.equal(p.calls.length, 0, 'closing is not a decision');
});

test('Tab and Shift+Tab stay inside the open dialog', async () => {
  const p = await loadPage();
  const dialog = p.$('[role="dialog"]');
  const last = p.$('[data-sp-action="preferences"]');
  const first = dialog.querySelector('a');
  last.focus();
  p.key('Tab');
  assert.equal(p.w.document.activeElement, first);
  p.key('Tab', { shiftKey: true });
  assert.equal(p.w.document.activeElement, last);
});

test('GPC keeps marketing off on accept all, says so, and records method gpc', async () => {
  const p = await loadPage({ gpc: true });
  assert.equal(p.$('.sp-notice').textContent, 'Your browser sends a privacy signal, so marketing stays off.');
  p.click('preferences');
  const marketing = p.$('input[data-sp-category="marketing"]');
  assert.equal(marketing.checked, false);
  assert.equal(marketing.disabled, true);
  p.click('accept-all');
  const body = p.calls[0].body;
  assert.equal(body.method, 'gpc');
  assert.deepEqual(body.signals, { gpc: true, dnt: false });
  assert.deepEqual(body.categories, { necessary: true, preferences: true, statistics: true, marketing: false });
});

test('DNT is reported but only honoured when configured', async () => {
  const ignored = await loadPage({ dnt: true });
  assert.equal(ignored.$('.sp-notice'), null);
  ignored.click('accept-all');
  assert.equal(ignored.calls[0].body.method, 'accept_all');
  assert.deepEqual(ignored.calls[0].body.signals, { gpc: false, dnt: true });
  const honoured = await loadPage({ dnt: true, config: siteConfig({ honorDnt: true }) });
  honoured.click('accept-all');
  assert.equal(honoured.calls[0].body.method, 'dnt');
  assert.equal(honoured.calls[0].body.categories.marketing, false);
});

const BLOCKED = `
  <script type="text/plain" data-sp-category="statistics" id="stats" data-extra="kept">window.statsRuns = (window.statsRuns || 0) + 1;</script>
  <script type="text/plain" data-sp-category="marketing">window.adsRuns = (window.adsRuns || 0) + 1;</script>
  <script type="text/plain" data-sp-category="preferences" data-sp-type="module" src="/prefs.js"></script>`;

test('blocked scripts run only after their category is granted, and only once', async () => {
  const p = await loadPage({ body: BLOCKED });
  assert.equal(p.w.statsRuns, undefined);
  p.click('preferences');
  p.$('input[data-sp-category="statistics"]').click();
  p.click('save');
  assert.equal(p.w.statsRuns, 1);
  assert.equal(p.w.adsRuns, undefined, 'marketing was not granted');
  const activated = p.$('#stats');
  assert.equal(activated.hasAttribute('type'), false);
  assert.equal(activated.getAttribute('data-extra'), 'kept');

  p.click('open');
  p.click('accept-all');
  assert.equal(p.w.statsRuns, 1, 'never twice');
  assert.equal(p.w.adsRuns, 1);
  const prefs = p.$('script[src="/prefs.js"]');
  assert.equal(prefs.type, 'module', 'data-sp-type becomes the type');
  p.w.SecurePrivacy.withdraw();
  p.click('open');
  p.click('accept-all');
  assert.equal(p.w.statsRuns, 1);
  assert.equal(p.w.adsRuns, 1);
});

test('a returning visitor: no dialog, scripts of granted categories run on load', async () => {
  const p = await loadPage({ body: BLOCKED, jar: returningJar() });
  assert.equal(p.$('[role="dialog"]'), null);
  assert.equal(p.$('[data-sp-action="open"]').hidden, false);
  assert.equal(p.w.statsRuns, 1);
  assert.equal(p.w.adsRuns, undefined);
  assert.equal(p.w.SecurePrivacy.getConsent().subject_id, '2f1c7a52-9a43-4c1e-8d0b-3c5e7f9a1b2c');
  assert.equal(p.events.length, 0, 'no event without a choice');
  assert.equal(p.calls.length, 0);
});

test('a new policy version or an expired consent asks again and keeps the subject id', async () => {
  for (const jar of [returningJar({ policy_version: '0' }), returningJar({ given_at: '2000-01-01T00:00:00.000Z' })]) {
    const p = await loadPage({ jar, body: BLOCKED });
    assert.ok(p.$('[role="dialog"]'));
    assert.equal(p.$('[data-sp-action="withdraw"]'), null);
    assert.equal(p.w.SecurePrivacy.getConsent(), null);
    assert.equal(p.w.statsRuns, undefined, 'outdated consent activates nothing');
    p.click('reject-all');
    assert.equal(p.calls[0].body.action, 'grant');
    assert.equal(p.calls[0].body.subject_id, '2f1c7a52-9a43-4c1e-8d0b-3c5e7f9a1b2c');
    assert.equal(p.w.SecurePrivacy.getConsent().policy_version, '1');
  }
});

test('a failed POST stays pending, the cookie holds, and the next page load retries it', async () => {
  const offline = await loadPage({ respond: () => Promise.reject(new TypeError('Failed to fetch')) });
  offline.click('accept-all');
  await settle();
  assert.ok(offline.cookie(), 'the choice holds without the server');
  const pending = offline.pending();
  assert.equal(pending.length, 1);
  assert.deepEqual(pending[0], offline.calls[0].body);

  const broken = await loadPage({
    jar: offline.jar,
    storage: { sp_consent_pending: JSON.stringify(pending) },
    respond: () => Promise.resolve({ ok: false, status: 500 }),
  });
  assert.equal(broken.calls.length, 1);
  await settle();
  assert.equal(broken.pending().length, 1, 'non-2xx keeps it');

  const next = await loadPage({ jar: offline.jar, storage: { sp_consent_pending: JSON.stringify(pending) } });
  assert.equal(next.$('[role="dialog"]'), null, 'consent from the cookie is in force');
  assert.equal(next.calls.length, 1);
  assert.deepEqual(next.calls[0].body, pending[0], 'the same event id is retried');
  await settle();
  assert.equal(next.w.localStorage.getItem('sp_consent_pending'), null);
});

test('a corrupt pending queue is ignored, not fatal', async () => {
  for (const junk of ['{}', '"x"', '[null, 1]', '{not json']) {
    const p = await loadPage({ storage: { sp_consent_pending: junk } });
    assert.ok(p.$('[role="dialog"]'));
    assert.equal(p.calls.length, 0);
  }
});

test('getConsent is null before any choice; open() and withdraw() work from the API', async () => {
  const p = await loadPage();
  assert.equal(p.w.SecurePrivacy.getConsent(), null);
  assert.deepEqual(Object.keys(p.w.SecurePrivacy).sort(), ['getConsent', 'open', 'withdraw']);
  const c = p.w.SecurePrivacy.withdraw();
  assert.equal(p.calls[0].body.action, 'withdraw');
  assert.deepEqual(plain(c), plain(p.w.SecurePrivacy.getConsent()));
  p.w.SecurePrivacy.open();
  assert.ok(p.$('[data-sp-action="withdraw"]'));
});

test('consent reaches Google Consent Mode and the WP Consent API', async () => {
  const gtagCalls = [];
  const wp = [];
  const p = await loadPage({
    setup(w) {
      w.gtag = (...args) => gtagCalls.push(args);
      w.wp_set_consent = (cat, value) => wp.push([cat, value]);
    },
  });
  p.click('preferences');
  p.$('input[data-sp-category="statistics"]').click();
  p.click('save');
  assert.deepEqual(plain(gtagCalls), [['consent', 'update', {
    analytics_storage: 'granted', ad_storage: 'denied', ad_user_data: 'denied', ad_personalization: 'denied',
    functionality_storage: 'denied', personalization_storage: 'denied',
  }]]);
  assert.deepEqual(wp, [['preferences', 'deny'], ['statistics', 'allow'], ['marketing', 'deny']]);

  const layer = await loadPage({ jar: returningJar(), setup(w) { w.dataLayer = []; } });
  const pushed = layer.w.dataLayer[0];
  assert.equal(Object.prototype.toString.call(pushed), '[object Arguments]', 'gtag.js only reads Arguments objects');
  assert.deepEqual([...pushed].slice(0, 2), ['consent', 'update']);
  assert.equal(pushed[2].analytics_storage, 'granted');
});

test('only window.SecurePrivacy is added to the global scope', async () => {
  const before = new JSDOM('', { url: PAGE, runScripts: 'outside-only' });
  const baseline = new Set(Object.keys(before.window));
  const p = await loadPage();
  // Named access (window['sp-consent'] for an element id) is not a global the widget made.
  const added = Object.keys(p.w).filter((k) => !baseline.has(k) && !p.w.document.getElementById(k));
  assert.deepEqual(added.sort(), ['SecurePrivacy', 'fetch']); // fetch is the test's stub
});
