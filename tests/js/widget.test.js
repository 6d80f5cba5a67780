'use strict';
// The widget in a jsdom page: what docs/api.md §6 and issue 5 promise a visitor and a test.
const test = require('node:test');
const assert = require('node:assert/strict');
const { JSDOM } = require('jsdom');
const {
  HEAD, PAGE, REST, UUID4, DAY, SUBJECT, TEXTS, siteConfig, loadPage, plain, settle, isoDay, returningJar,
} = require('./page.js');

test('a missing or invalid config renders nothing and throws nothing', async () => {
  // The last: an island of format 4 or older (texts by key), e.g. from a full-page cache kept
  // across a plugin update: no banner, so nothing is granted, until the cache is purged.
  for (const config of [null, '{not json', '', 'null', '{"restUrl":"/x"}', JSON.stringify({ ...siteConfig(), texts: TEXTS })]) {
    const p = await loadPage({ config });
    assert.equal(p.$('#sp-consent'), null);
    assert.equal(p.calls.length, 0);
    assert.equal(p.w.SecurePrivacy, undefined);
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
  assert.equal(p.$('#' + dialog.getAttribute('aria-describedby')).textContent, 'Demo uses cookies. Privacy policy');
  const buttons = p.$$('#sp-consent .sp-actions [data-sp-action]');
  assert.deepEqual(buttons.map((b) => [b.getAttribute('data-sp-action'), b.textContent, b.className, b.type]), [
    ['accept-all', 'Accept all', 'sp-btn', 'button'],
    ['reject-all', 'Reject all', 'sp-btn', 'button'],
    ['preferences', 'Preferences', 'sp-btn', 'button'],
  ], 'three buttons, all alike: equal prominence');
  assert.equal(dialog.querySelector('a').href, 'http://127.0.0.1:8080/privacy-policy/');
  assert.equal(p.$('[data-sp-action="withdraw"]'), null);
  assert.equal(p.$('[data-sp-action="close"]'), null, 'no way to dismiss without a choice');
  assert.ok(p.$('[data-sp-action="open"]').hidden);
  assert.equal(p.$$('#sp-consent input').length, 0, 'no checkbox on the first layer');
  assert.equal(p.w.document.activeElement, dialog, 'focus moves into the dialog');
  assert.equal(p.w.SecurePrivacy.getConsent(), null);
  assert.equal(p.calls.length, 0);
  assert.equal(p.cookie(), undefined);
  assert.deepEqual(p.consentUpdates(), [], 'no consent update before a choice');
});

test('texts are the site\'s, inserted as text; no privacy link without a safe privacyUrl', async () => {
  const sv = { ...TEXTS, acceptAll: 'Godkänn alla', title: '<img src=x onerror="window.pwned=1">' };
  const p = await loadPage({ config: siteConfig({ privacyUrl: '', texts: sv }) });
  assert.equal(p.$('[data-sp-action="accept-all"]').textContent, 'Godkänn alla');
  assert.equal(p.$('#sp-consent-title').textContent, sv.title);
  assert.equal(p.$('#sp-consent img'), null, 'markup in a text stays text');
  assert.equal(p.w.pwned, undefined);
  assert.equal(p.$('#sp-consent a'), null);
  const evil = await loadPage({ config: siteConfig({ privacyUrl: 'javascript:alert(1)' }) });
  assert.equal(evil.$('#sp-consent a'), null);
  const quoted = await loadPage({ config: siteConfig({ privacyUrl: '/privacy/?a="><b>x</b>' }) });
  assert.equal(quoted.$('#sp-consent a').getAttribute('href'), '/privacy/?a="><b>x</b>');
  assert.equal(quoted.$('#sp-consent b'), null);
});

test('preferences: one switch per category with its description, necessary on and locked, none pre-ticked', async () => {
  const p = await loadPage();
  p.click('preferences');
  const boxes = p.$$('#sp-consent input[data-sp-category]');
  assert.deepEqual(boxes.map((b) => [b.getAttribute('data-sp-category'), b.type, b.getAttribute('role'), b.checked, b.disabled]), [
    ['necessary', 'checkbox', 'switch', true, true],
    ['preferences', 'checkbox', 'switch', false, false],
    ['statistics', 'checkbox', 'switch', false, false],
    ['marketing', 'checkbox', 'switch', false, false],
  ]);
  for (const b of boxes) {
    assert.ok(p.$(`label[for="${b.id}"]`).textContent, 'visible label');
    assert.ok(p.$('#' + b.getAttribute('aria-describedby')).textContent, 'description');
  }
  assert.equal(p.$('#sp-consent-cat-necessary-desc').textContent, 'Site basics. Always on.');
  assert.ok(p.$('[data-sp-action="save"]'));
  assert.equal(p.w.document.activeElement, boxes[1], 'focus on the first choice');
  assert.equal(p.key('Escape'), false);
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
  const stored = p.stored();
  assert.deepEqual(Object.keys(stored), ['subject_id', 'categories', 'policy_version', 'banner_version', 'given_at']);
  assert.match(stored.subject_id, UUID4);
  assert.equal(new Date(stored.given_at).toISOString(), stored.given_at);

  assert.equal(p.calls.length, 1);
  const { url, init, body } = p.calls[0];
  assert.equal(url, REST);
  assert.equal(init.method, 'POST');
  assert.equal(init.credentials, undefined, 'fetch\'s default: same-origin');
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
  p.w.SecurePrivacy.getConsent().categories.marketing = false;
  assert.equal(p.w.SecurePrivacy.getConsent().categories.marketing, true, 'getConsent returns a copy');
  await settle();
  assert.deepEqual(p.pending(), [], 'delivered events leave the queue');
});

test('the REST nonce is sent as X-WP-Nonce and Secure is set when configured', async () => {
  const p = await loadPage({ config: siteConfig({ restNonce: 'abc123', cookieSecure: true }) });
  p.click('reject-all');
  assert.equal(p.calls[0].init.headers['X-WP-Nonce'], 'abc123');
  assert.equal(p.calls[0].body.method, 'reject_all');
  assert.deepEqual(p.events.map((e) => e[0]), ['sp:consent'], 'reject all first time changes nothing');
});

test('saving custom choices records only what was switched on', async () => {
  const p = await loadPage();
  p.click('preferences');
  p.$('input[data-sp-category="statistics"]').click();
  p.click('save');
  const body = p.calls[0].body;
  assert.equal(body.action, 'grant');
  assert.equal(body.method, 'custom');
  assert.deepEqual(body.categories, { necessary: true, preferences: false, statistics: true, marketing: false });
});

test('the preferences show the visitor id with a copy button that says it copied', async () => {
  const p = await loadPage();
  p.click('preferences');
  assert.equal(p.$('#sp-consent .sp-id'), null, 'no id before a choice: none exists yet');
  p.click('accept-all');
  const subject = p.calls[0].body.subject_id;
  let copied = null;
  Object.defineProperty(p.w.navigator, 'clipboard', { value: { writeText: async (x) => { copied = x; } } });
  p.click('open');
  const id = p.$('#sp-consent .sp-id');
  assert.equal(id.querySelector('code').textContent, subject);
  assert.match(id.textContent, /^Your visitor id, to quote if you ask to see or erase your records:/);
  const status = id.querySelector('[role="status"]');
  assert.equal(status.textContent, '');
  p.click('copy');
  await settle(p);
  assert.equal(copied, subject);
  assert.equal(status.textContent, 'Copied.');
});

test('the floating button reopens the choices in force; withdraw is one click and keeps the button', async () => {
  const p = await loadPage();
  p.click('accept-all');
  const subject = p.calls[0].body.subject_id;
  p.click('open');
  assert.ok(p.$('[role="dialog"]'));
  assert.ok(p.$('[data-sp-action="open"]').hidden, 'no floating button over the open dialog');
  assert.deepEqual(p.$$('#sp-consent input[data-sp-category]').map((i) => i.checked), [true, true, true, true],
    'the preferences with the grants in force, marketing (the ads opt-out) among them');
  assert.equal(p.$('[data-sp-action="withdraw"]').textContent, 'Withdraw consent');
  assert.equal(p.$('[data-sp-action="close"]').getAttribute('aria-label'), 'Close');
  p.click('withdraw');
  await settle(); // sent once the decision before it was delivered

  const body = p.calls[1].body;
  assert.equal(body.action, 'withdraw');
  assert.equal(body.method, 'withdraw');
  assert.equal(body.subject_id, subject, 'subject id is kept across choices');
  assert.notEqual(body.event_id, p.calls[0].body.event_id);
  assert.deepEqual(body.categories, { necessary: true, preferences: false, statistics: false, marketing: false });
  assert.deepEqual(p.stored().categories, body.categories);
  assert.equal(p.$('[role="dialog"]'), null);
  assert.equal(p.$('[data-sp-action="open"]').hidden, false);
  assert.equal(p.w.document.activeElement, p.$('[data-sp-action="open"]'));
  assert.deepEqual(p.events.map((e) => e[0]), ['sp:consent', 'sp:change', 'sp:consent', 'sp:change']);

  p.click('open');
  p.$('input[data-sp-category="marketing"]').click();
  p.click('save');
  await settle();
  assert.equal(p.calls[2].body.action, 'update');
  assert.equal(p.calls[2].body.method, 'custom');
  assert.deepEqual(p.calls[2].body.categories, { necessary: true, preferences: false, statistics: false, marketing: true });
  p.click('open');
  p.click('save');
  assert.equal(p.events.length, 7, 'same categories again: sp:consent without sp:change');
});

test('Escape closes a reopened dialog and focus returns to the floating button', async () => {
  const p = await loadPage({ jar: returningJar() });
  p.click('open');
  p.key('Escape');
  assert.equal(p.$('[role="dialog"]'), null);
  assert.equal(p.w.document.activeElement, p.$('[data-sp-action="open"]'));
  p.click('open');
  p.click('close');
  assert.equal(p.$('[role="dialog"]'), null);
  assert.equal(p.calls.length, 0, 'closing is not a decision');
});

test('Tab and Shift+Tab stay inside the open dialog, and bring wandered focus back', async () => {
  const p = await loadPage({ body: '<a id="outside" href="/x">x</a>' });
  const dialog = p.$('[role="dialog"]');
  const last = p.$('[data-sp-action="preferences"]');
  const first = dialog.querySelector('a');
  last.focus();
  assert.equal(p.key('Tab'), true);
  assert.equal(p.w.document.activeElement, first);
  assert.equal(p.key('Tab', { shiftKey: true }), true);
  assert.equal(p.w.document.activeElement, last);
  assert.equal(p.key('Tab'), true);
  assert.equal(p.key('Tab'), false, 'inside the dialog the browser moves focus');
  dialog.focus();
  p.key('Tab', { shiftKey: true });
  assert.equal(p.w.document.activeElement, last, 'Shift+Tab from the dialog itself goes to its last control');
  p.$('#outside').focus();
  p.key('Tab');
  assert.equal(p.w.document.activeElement, first);
});

test('GPC keeps marketing off on accept all, says so, and records method gpc', async () => {
  const p = await loadPage({ gpc: true });
  assert.equal(p.$('.sp-info').textContent, TEXTS.gpcNotice);
  p.click('preferences');
  const marketing = p.$('input[data-sp-category="marketing"]');
  assert.equal(marketing.checked, false);
  assert.equal(marketing.disabled, true, 'not asked for: the signal decides');
  assert.equal(p.$('#' + marketing.getAttribute('aria-describedby')).textContent, TEXTS.gpcNotice);
  p.click('accept-all');
  const body = p.calls[0].body;
  assert.equal(body.method, 'gpc');
  assert.deepEqual(body.signals, { gpc: true, dnt: false });
  assert.deepEqual(body.categories, { necessary: true, preferences: true, statistics: true, marketing: false });
});

test('a signal honoured now overrides an earlier marketing grant, recorded with its method', async () => {
  const jar = returningJar({ categories: { necessary: true, preferences: true, statistics: false, marketing: true } });
  const p = await loadPage({ jar, gpc: true, body: '<script type="text/plain" data-sp-category="marketing">window.ads = 1</script>' });
  assert.equal(p.$('[role="dialog"]'), null);
  assert.equal(p.calls.length, 1);
  const body = p.calls[0].body;
  assert.deepEqual([body.action, body.method, body.subject_id], ['update', 'gpc', SUBJECT]);
  assert.deepEqual(body.categories, { necessary: true, preferences: true, statistics: false, marketing: false });
  assert.equal(p.stored().categories.marketing, false);
  assert.equal(p.w.ads, undefined, 'marketing scripts stay blocked');
  assert.equal(p.consentUpdates().at(-1)[2].ad_storage, 'denied');
  assert.equal(p.$('[data-sp-action="open"]').hidden, false);

  const without = await loadPage({ jar: returningJar({ categories: { necessary: true, marketing: true } }), gpc: true,
    config: siteConfig({ honorGpc: false }) });
  assert.equal(without.calls.length, 0, 'not honoured: nothing to record');
});

test('DNT is reported but only honoured when configured', async () => {
  const ignored = await loadPage({ dnt: true });
  assert.equal(ignored.$('.sp-info'), null);
  ignored.click('accept-all');
  assert.equal(ignored.calls[0].body.method, 'accept_all');
  assert.deepEqual(ignored.calls[0].body.signals, { gpc: false, dnt: true });
  const honoured = await loadPage({ dnt: true, config: siteConfig({ honorDnt: true }) });
  assert.equal(honoured.$('.sp-info').textContent, TEXTS.dntNotice);
  honoured.click('accept-all');
  assert.equal(honoured.calls[0].body.method, 'dnt');
  assert.equal(honoured.calls[0].body.categories.marketing, false);
});

test('categories the site switched off are neither shown nor granted', async () => {
  const categories = siteConfig().categories.filter((c) => c.key !== 'marketing');
  const p = await loadPage({ config: siteConfig({ categories }) });
  p.click('preferences');
  assert.deepEqual(p.$$('#sp-consent input[data-sp-category]').map((i) => i.getAttribute('data-sp-category')),
    ['necessary', 'preferences', 'statistics']);
  p.click('accept-all');
  assert.deepEqual(p.calls[0].body.categories, { necessary: true, preferences: true, statistics: true, marketing: false });
});

const BLOCKED = `
  <script type="text/plain" data-sp-category="statistics" id="stats" data-extra="kept">window.statsRuns = (window.statsRuns || 0) + 1;</script>
  <script type="text/plain" data-sp-category="marketing">window.adsRuns = (window.adsRuns || 0) + 1;</script>
  <script type="text/plain" data-sp-category="statistics marketing">window.bothRuns = 1;</script>
  <script type="text/plain" data-sp-category="preferences" data-sp-type="module" src="/prefs.js"></script>`;

test('blocked scripts run only after their category is granted, and only once', async () => {
  const p = await loadPage({ body: BLOCKED });
  assert.equal(p.w.statsRuns, undefined);
  p.click('preferences');
  p.$('input[data-sp-category="statistics"]').click();
  p.click('save');
  assert.equal(p.w.statsRuns, 1);
  assert.equal(p.w.adsRuns, undefined, 'marketing was not granted');
  assert.equal(p.w.bothRuns, undefined, 'every listed category is needed');
  const activated = p.$('#stats');
  assert.equal(activated.hasAttribute('type'), false);
  assert.equal(activated.getAttribute('data-extra'), 'kept');

  p.click('open');
  p.click('accept-all');
  assert.equal(p.w.statsRuns, 1, 'never twice');
  assert.equal(p.w.adsRuns, 1);
  assert.equal(p.w.bothRuns, 1);
  const prefs = p.$('script[src="/prefs.js"]');
  assert.equal(prefs.type, 'module', 'data-sp-type becomes the type');
  p.w.SecurePrivacy.withdraw();
  p.click('open');
  p.click('accept-all');
  assert.equal(p.w.statsRuns, 1);
  assert.equal(p.w.adsRuns, 1);
});

const FRAME = '<iframe id="map" data-sp-src="/embed/map.html" data-sp-category="marketing" title="Map" width="400" height="300"></iframe>';

test('blocked iframes: a placeholder names the consent needed; they load after it and unload on withdrawal', async () => {
  const p = await loadPage({ body: FRAME });
  const frame = p.$('#map');
  assert.equal(frame.hasAttribute('src'), false, 'not loaded before consent');
  assert.equal(frame.style.display, 'none');
  const ph = frame.previousElementSibling;
  assert.equal(ph.className, 'sp-blocked');
  assert.equal(ph.querySelector('p').textContent, 'This content is blocked until you allow: Marketing.');
  assert.equal(ph.querySelector('[data-sp-action="load"]').textContent, 'Load content — this allows Marketing',
    'no data-sp-service: the embed is called "content"');
  const open = ph.querySelector('[data-sp-action="open"]');
  assert.equal(open.textContent, 'Privacy settings');

  p.click('reject-all');
  open.click();
  assert.ok(p.$('[role="dialog"]'), 'the placeholder button opens the choices');
  p.$('input[data-sp-category="marketing"]').click();
  p.click('save');
  assert.equal(frame.getAttribute('src'), '/embed/map.html');
  assert.equal(frame.style.display, '');
  assert.equal(p.$('.sp-blocked'), null);

  p.w.SecurePrivacy.withdraw();
  assert.equal(frame.getAttribute('src'), 'about:blank', 'unloaded at once');
  assert.equal(frame.previousElementSibling.className, 'sp-blocked');
  assert.equal(p.$$('.sp-blocked').length, 1);

  const next = await loadPage({ body: FRAME, jar: p.jar });
  assert.equal(next.$('#map').hasAttribute('src'), false, 'and not loaded on the next page');
  const granted = await loadPage({ body: FRAME, jar: returningJar({ categories: { necessary: true, marketing: true } }) });
  assert.equal(granted.$('#map').getAttribute('src'), '/embed/map.html');
  assert.equal(granted.$('.sp-blocked'), null);
});

const PIXEL = '<img id="px" data-sp-src="/px.gif?id=1" data-sp-category="marketing" data-sp-service="Meta Pixel" width="1" height="1" alt="">';

test('blocked pixels (as the plugin writes them): no request and no placeholder before consent, loaded after it', async () => {
  const p = await loadPage({ body: PIXEL + FRAME });
  const px = p.$('#px');
  assert.equal(px.hasAttribute('src'), false);
  assert.equal(p.$$('.sp-blocked').length, 1, 'a placeholder for the frame only');
  assert.equal(px.style.display, '', 'the pixel is not hidden or replaced');
  p.click('reject-all');
  assert.equal(px.hasAttribute('src'), false, 'none after reject');
  p.click('open');
  p.click('accept-all');
  assert.equal(px.getAttribute('src'), '/px.gif?id=1');
  const next = await loadPage({ body: PIXEL, jar: returningJar({ categories: { necessary: true, marketing: false } }) });
  assert.equal(next.$('#px').hasAttribute('src'), false);
});

const FONT = '<link id="font" rel="stylesheet" data-sp-src="/fonts.css?family=Roboto" data-sp-category="preferences" data-sp-service="Google Fonts" media="all">';

test('a blocked stylesheet link (a web font): no href and no placeholder before consent, its href once granted, gone again when withdrawn', async () => {
  const p = await loadPage({ body: FONT + FRAME });
  const font = p.$('#font');
  assert.equal(font.hasAttribute('href'), false);
  assert.equal(p.$$('.sp-blocked').length, 1, 'a placeholder for the frame only');
  p.click('reject-all');
  assert.equal(font.hasAttribute('href'), false, 'none after reject');
  p.click('open');
  p.click('accept-all');
  assert.equal(font.getAttribute('href'), '/fonts.css?family=Roboto');
  assert.equal(font.hasAttribute('src'), false, 'a link loads by its href, never src');
  p.click('open');
  p.click('reject-all');
  assert.equal(font.getAttribute('href'), 'about:blank', 'unloaded when withdrawn');
  assert.equal(p.$$('.sp-blocked').length, 1);
});

test('focus returns to where the dialog was opened from', async () => {
  const p = await loadPage({ body: FRAME, jar: returningJar() });
  const open = p.$('.sp-blocked [data-sp-action="open"]');
  open.focus();
  open.click();
  assert.ok(p.$('[role="dialog"]'));
  p.key('Escape');
  assert.equal(p.w.document.activeElement, open);
});

test('a returning visitor: no dialog, granted scripts run and Consent Mode is updated on load', async () => {
  const p = await loadPage({ body: BLOCKED, jar: returningJar() });
  assert.equal(p.$('[role="dialog"]'), null);
  assert.equal(p.$('[data-sp-action="open"]').hidden, false);
  assert.equal(p.w.statsRuns, 1);
  assert.equal(p.w.adsRuns, undefined);
  assert.equal(p.w.SecurePrivacy.getConsent().subject_id, SUBJECT);
  assert.deepEqual(p.consentUpdates(), [['consent', 'update', {
    ad_storage: 'denied', ad_user_data: 'denied', ad_personalization: 'denied', analytics_storage: 'granted',
    functionality_storage: 'denied', personalization_storage: 'denied',
  }]]);
  assert.equal(p.events.length, 0, 'no event without a choice');
  assert.equal(p.calls.length, 0);
});

test('a new policy version or an expired consent asks again and keeps the subject id', async () => {
  const old = new Date(Date.now() - 366 * DAY).toISOString();
  for (const jar of [returningJar({ policy_version: '0' }), returningJar({ given_at: old })]) {
    const p = await loadPage({ jar, body: BLOCKED });
    assert.ok(p.$('[role="dialog"]'));
    assert.equal(p.$('[data-sp-action="withdraw"]'), null);
    assert.equal(p.w.SecurePrivacy.getConsent(), null);
    assert.equal(p.w.statsRuns, undefined, 'outdated consent activates nothing');
    assert.deepEqual(p.consentUpdates(), []);
    p.click('reject-all');
    assert.equal(p.calls[0].body.action, 'grant');
    assert.equal(p.calls[0].body.subject_id, SUBJECT);
    assert.equal(p.w.SecurePrivacy.getConsent().policy_version, '1');
  }
  const custom = await loadPage({ jar: returningJar({ given_at: new Date(Date.now() - 31 * DAY).toISOString() }),
    config: siteConfig({ lifetimeDays: 30 }) });
  assert.ok(custom.$('[role="dialog"]'), 'the configured lifetime counts');
});

test('a scheduled policy change: a dismissible notice during the notice period, a new question on the date', async () => {
  const inTen = isoDay(Date.now() + 10 * DAY);
  const config = siteConfig({ nextPolicyVersion: '2', nextPolicyEffective: inTen });
  const p = await loadPage({ config, jar: returningJar() });
  assert.equal(p.$('[role="dialog"]'), null, 'the consent stands until the date');
  const note = p.$('#sp-consent .sp-note');
  assert.equal(note.getAttribute('role'), 'status');
  const date = new Date(inTen + 'T00:00:00Z').toLocaleDateString('en-US', { year: 'numeric', month: 'long', day: 'numeric', timeZone: 'UTC' });
  assert.equal(note.querySelector('p').textContent,
    `Our privacy policy changes on ${date}. We will ask for your consent again then. Privacy policy`);
  assert.equal(note.querySelector('a').href, 'http://127.0.0.1:8080/privacy-policy/');
  p.$('[data-sp-action="dismiss"]').click();
  assert.equal(p.$('.sp-note'), null);
  assert.equal(p.w.document.activeElement, p.$('[data-sp-action="open"]'));
  assert.equal(p.calls.length, 0, 'dismissing is not a consent decision');
  const again = await loadPage({ config, jar: p.jar, storage: { sp_policy_notice: p.w.localStorage.getItem('sp_policy_notice') } });
  assert.equal(again.$('.sp-note'), null, 'dismissed stays dismissed');

  const first = await loadPage({ config });
  assert.match(first.$('[role="dialog"] .sp-info').textContent, /^Our privacy policy changes on /, 'a first visitor reads it in the dialog');
  first.click('accept-all');
  assert.equal(first.calls[0].body.policy_version, '1');

  const due = await loadPage({ config: siteConfig({ nextPolicyVersion: '2', nextPolicyEffective: isoDay(Date.now()) }), jar: returningJar() });
  assert.ok(due.$('[role="dialog"]'), 'asked again from the effective date, by the browser clock');
  assert.equal(due.$('.sp-note'), null);
  due.click('accept-all');
  assert.equal(due.calls[0].body.policy_version, '2');
  assert.equal(due.stored().policy_version, '2');

  const far = await loadPage({ config: siteConfig({ nextPolicyVersion: '2', nextPolicyEffective: isoDay(Date.now() + 40 * DAY) }), jar: returningJar() });
  assert.equal(far.$('.sp-note'), null, 'not before the notice period');
});

test('a failed POST stays pending, the cookie holds, and the next page load retries it', async () => {
  const offline = await loadPage({ respond: () => Promise.reject(new TypeError('Failed to fetch')) });
  offline.click('accept-all');
  await settle();
  assert.ok(offline.cookie(), 'the choice holds without the server');
  const pending = offline.pending();
  assert.equal(pending.length, 1);
  assert.deepEqual(pending[0], offline.calls[0].body);

  for (const status of [500, 503, 429, 403]) {
    const broken = await loadPage({
      jar: offline.jar,
      storage: { sp_consent_pending: JSON.stringify(pending) },
      respond: () => Promise.resolve({ ok: false, status }),
    });
    assert.equal(broken.calls.length, 1);
    await settle();
    assert.equal(broken.pending().length, 1, `${status} keeps it`);
  }
  const refused = await loadPage({
    jar: offline.jar, storage: { sp_consent_pending: JSON.stringify(pending) },
    respond: () => Promise.resolve({ ok: false, status: 400 }),
  });
  await settle();
  assert.deepEqual(refused.pending(), [], 'a 400 will never pass: dropped');

  const next = await loadPage({ jar: offline.jar, storage: { sp_consent_pending: JSON.stringify(pending) } });
  assert.equal(next.$('[role="dialog"]'), null, 'consent from the cookie is in force');
  assert.equal(next.calls.length, 1);
  assert.deepEqual(next.calls[0].body, pending[0], 'the same event id is retried');
  await settle();
  assert.equal(next.w.localStorage.getItem('sp_consent_pending'), null);
});

test('decisions are sent one at a time, oldest first; one that cannot be delivered holds the later ones', async () => {
  let answer;
  const p = await loadPage({ respond: () => new Promise((resolve) => { answer = resolve; }) });
  p.click('accept-all');
  p.click('open');
  p.click('withdraw');
  await settle();
  assert.deepEqual(p.calls.map((c) => c.body.method), ['accept_all'], 'the withdrawal waits for the acceptance');
  assert.deepEqual(p.pending().map((e) => e.method), ['accept_all', 'withdraw'], 'both written ahead, in order');
  answer({ ok: true, status: 202 });
  await settle();
  assert.deepEqual(p.calls.map((c) => c.body.method), ['accept_all', 'withdraw']);
  answer({ ok: true, status: 202 });
  await settle();
  assert.deepEqual(p.pending(), []);

  const down = await loadPage({ respond: () => Promise.resolve({ ok: false, status: 503 }) });
  down.click('accept-all');
  down.click('open');
  down.click('withdraw');
  await settle();
  assert.deepEqual(down.calls.map((c) => c.body.method), ['accept_all'], 'not sent past an undelivered one');
  const held = down.pending();
  assert.deepEqual(held.map((e) => e.method), ['accept_all', 'withdraw']);
  const later = await loadPage({ jar: down.jar, storage: { sp_consent_pending: JSON.stringify(held) } });
  await settle();
  assert.deepEqual(later.calls.map((c) => c.body.event_id), held.map((e) => e.event_id), 'the next page sends both, in order');
  assert.deepEqual(later.pending(), []);
});

test('a corrupt pending queue is ignored, not fatal', async () => {
  for (const junk of ['{}', '"x"', '[null, 1]', '{not json']) {
    const p = await loadPage({ storage: { sp_consent_pending: junk } });
    assert.ok(p.$('[role="dialog"]'));
    assert.equal(p.calls.length, 0);
  }
});

test('page_url is trimmed to what the REST route accepts', async () => {
  const p = await loadPage();
  p.w.history.replaceState(null, '', '/sample-page/?q=' + 'x'.repeat(3000));
  p.click('accept-all');
  assert.equal(p.calls[0].body.page_url, PAGE);
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

test('consent reaches Google Consent Mode (dataLayer) and the WP Consent API', async () => {
  const wp = [];
  const p = await loadPage({
    setup(w) {
      w.wp_set_consent = (cat, value) => wp.push([cat, value]);
    },
  });
  assert.equal(p.w.wp_consent_type, 'optin');
  assert.deepEqual(p.events.map((e) => e[0]), ['wp_consent_type_defined']);
  assert.deepEqual(wp, [], 'no consent set before a choice');
  p.click('preferences');
  p.$('input[data-sp-category="statistics"]').click();
  p.click('save');
  const pushed = p.w.dataLayer.at(-1);
  assert.equal(Object.prototype.toString.call(pushed), '[object Arguments]', 'gtag.js only reads Arguments objects');
  assert.deepEqual(p.consentUpdates(), [['consent', 'update', {
    ad_storage: 'denied', ad_user_data: 'denied', ad_personalization: 'denied', analytics_storage: 'granted',
    functionality_storage: 'denied', personalization_storage: 'denied',
  }]]);
  assert.deepEqual(wp, [['functional', 'allow'], ['preferences', 'deny'], ['statistics', 'allow'],
    ['statistics-anonymous', 'allow'], ['marketing', 'deny']]);

  wp.length = 0;
  const back = await loadPage({ jar: returningJar(), setup(w) { w.wp_set_consent = (cat, value) => wp.push([cat, value]); } });
  assert.deepEqual(wp.find((x) => x[0] === 'statistics'), ['statistics', 'allow'], 'set again on every page');
  assert.deepEqual(back.events.map((e) => e[0]), ['wp_consent_type_defined'], 'after the values are set');
});

test('the <head> snippet sets every Consent Mode type to denied, with wait_for_update, and nothing else', async () => {
  const dom = new JSDOM('<!doctype html><html><head></head><body></body></html>', { url: PAGE, runScripts: 'outside-only' });
  const baseline = new Set(Object.keys(dom.window));
  dom.window.eval(HEAD);
  const layer = dom.window.dataLayer.map((a) => [...a]);
  assert.deepEqual(plain(layer), [
    ['consent', 'default', {
      ad_storage: 'denied', ad_user_data: 'denied', ad_personalization: 'denied', analytics_storage: 'denied',
      functionality_storage: 'denied', personalization_storage: 'denied', security_storage: 'granted', wait_for_update: 500,
    }],
    ['set', 'ads_data_redaction', true],
  ]);
  assert.deepEqual(Object.keys(dom.window).filter((k) => !baseline.has(k)), ['dataLayer']);
  dom.window.dataLayer = ['kept'];
  dom.window.eval(HEAD);
  assert.equal(dom.window.dataLayer[0], 'kept', 'an existing dataLayer is reused');
});

test('Consent Mode: the <head> snippet maps the widget\'s categories to Google\'s types; the widget relies on it', async () => {
  const dom = new JSDOM('<!doctype html><html><head></head><body></body></html>', { url: PAGE, runScripts: 'outside-only' });
  dom.window.eval(HEAD);
  const update = (categories) => {
    dom.window.document.dispatchEvent(new dom.window.CustomEvent('sp:consent-mode', { detail: categories }));
    return plain([...dom.window.dataLayer.at(-1)]);
  };
  assert.deepEqual(update({ necessary: true, preferences: true, statistics: false, marketing: true }), ['consent', 'update', {
    ad_storage: 'granted', ad_user_data: 'granted', ad_personalization: 'granted', analytics_storage: 'denied',
    functionality_storage: 'granted', personalization_storage: 'granted',
  }]);
  assert.deepEqual(Object.values(update({ necessary: true })[2]), Array(6).fill('denied'));
  // Without the snippet (which frontend.php always prints before it) the widget sends Google nothing.
  const bare = await loadPage({ jar: returningJar(), head: '/* no snippet */' });
  assert.equal(bare.w.dataLayer, undefined);
  const full = await loadPage({ jar: returningJar() });
  assert.equal(full.consentUpdates().length, 1);
});

test('the site\'s corner: bottom-left on request', async () => {
  assert.equal((await loadPage()).$('#sp-consent').className, '');
  assert.equal((await loadPage({ config: siteConfig({ position: 'bottom-left' }) })).$('#sp-consent').className, 'sp-left');
});

test('only window.SecurePrivacy is added to the global scope', async () => {
  const before = new JSDOM('', { url: PAGE, runScripts: 'outside-only', pretendToBeVisual: true });
  before.window.eval(HEAD); // the <head> snippet's dataLayer is Google's global, not the widget's
  const baseline = new Set(Object.keys(before.window));
  const p = await loadPage();
  // Named access (window['sp-consent'] for an element id) is not a global the widget made.
  const added = Object.keys(p.w).filter((k) => !baseline.has(k) && !p.w.document.getElementById(k));
  assert.deepEqual(added.sort(), ['SecurePrivacy', 'fetch']); // fetch is the test's stub
});

