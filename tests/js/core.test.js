'use strict';
// Unit tests of the widget's pure core: cookie format, re-ask rules, policy schedule, decisions.
const test = require('node:test');
const assert = require('node:assert/strict');
const { webcrypto } = require('node:crypto');
const core = require('../../wp-plugin/assets/widget.js');

const UUID4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const DAY = 864e5;
const NOW = Date.parse('2024-06-01T12:00:00Z');
const ALL = [{ key: 'necessary' }, { key: 'preferences' }, { key: 'statistics' }, { key: 'marketing' }];
const KEYS = ALL.map((c) => c.key); // the plugin's island always lists every category (categoryKeys)
const config = (over) => core.normalizeConfig({
  policyVersion: '1', bannerVersion: 'ab12', lifetimeDays: 365, categories: ALL, categoryKeys: KEYS, ...over,
}, NOW);
const NO_SIGNALS = { gpc: false, dnt: false };
const state = (over) => ({
  subject_id: '2f1c7a52-9a43-4c1e-8d0b-3c5e7f9a1b2c',
  categories: { necessary: true, preferences: false, statistics: true, marketing: false },
  policy_version: '1',
  banner_version: 'ab12',
  given_at: '2024-05-01T10:00:00.000Z',
  ...over,
});

test('uuid4 makes distinct version-4 UUIDs', () => {
  const ids = new Set(Array.from({ length: 500 }, () => core.uuid4(webcrypto)));
  assert.equal(ids.size, 500);
  for (const id of ids) assert.match(id, UUID4);
  // Every hex digit shows up in every random position: the generator is not stuck.
  const digits = new Set([...ids].map((id) => id[0]));
  assert.equal(digits.size, 16);
});

test('cookie round-trips and is URI-encoded with the right attributes', () => {
  const s = state();
  const header = core.serializeCookie(s, 365, false);
  const [pair, ...attrs] = header.split('; ');
  assert.ok(pair.startsWith('sp_consent='));
  assert.doesNotMatch(pair.slice('sp_consent='.length), /[{}" ;,]/);
  assert.deepEqual(attrs, ['Max-Age=31536000', 'Path=/', 'SameSite=Lax']);
  assert.deepEqual(core.parseCookie(`other=1; ${pair}; last=2`), s);
  assert.deepEqual(core.parseCookie(pair), s, 'first cookie of the header');
  assert.ok(core.serializeCookie(s, 30, true).endsWith('; Max-Age=2592000; Path=/; SameSite=Lax; Secure'));
});

test('parseCookie ignores missing, malformed and tampered cookies', () => {
  assert.equal(core.parseCookie(''), null);
  assert.equal(core.parseCookie(undefined), null);
  assert.equal(core.parseCookie('xsp_consent=1'), null);
  assert.equal(core.parseCookie('sp_consent=%7Bnot-json'), null);
  assert.equal(core.parseCookie('sp_consent=%E0%A4%A'), null);
  const bad = encodeURIComponent(JSON.stringify(state({ subject_id: '<script>' })));
  assert.equal(core.parseCookie(`sp_consent=${bad}`), null);
  const noCats = encodeURIComponent(JSON.stringify(state({ categories: null })));
  assert.equal(core.parseCookie(`sp_consent=${noCats}`), null);
  const odd = encodeURIComponent(JSON.stringify(state({ categories: { necessary: true, marketing: 'yes' } })));
  assert.deepEqual(core.parseCookie(`sp_consent=${odd}`).categories, { necessary: true, marketing: false });
  const extra = encodeURIComponent(JSON.stringify({ ...state(), evil: 1 }));
  assert.deepEqual(Object.keys(core.parseCookie(`sp_consent=${extra}`)),
    ['subject_id', 'categories', 'policy_version', 'banner_version', 'given_at'], 'only known fields');
});

test('needsConsent asks again on no state, new policy version, expiry or a broken date', () => {
  const now = Date.parse('2024-06-01T00:00:00Z');
  assert.equal(core.needsConsent(null, config(), now), true);
  assert.equal(core.needsConsent(state(), config(), now), false);
  assert.equal(core.needsConsent(state(), config({ policyVersion: '2' }), now), true);
  assert.equal(core.needsConsent(state(), config({ policyVersion: 1 }), now), false, 'numeric version compares as string');
  assert.equal(core.needsConsent(state(), config({ lifetimeDays: 30 }), now), true);
  assert.equal(core.needsConsent(state(), config({ lifetimeDays: 31 }), now), false);
  assert.equal(core.needsConsent(state(), config({ lifetimeDays: 'x' }), now), false, 'default lifetime 365 days');
  assert.equal(core.needsConsent(state({ given_at: '2023-05-01T09:00:00.000Z' }), config(), now), true, 'older than 12 months');
  assert.equal(core.needsConsent(state({ given_at: 'yesterday' }), config(), now), true);
});

test('policy schedule: notice during the notice period, next version from its date (browser clock, UTC)', () => {
  const at = (days) => new Date(NOW + days * DAY).toISOString().slice(0, 10);
  const schedule = (days, over) => config({ nextPolicyVersion: '2', nextPolicyEffective: at(days), ...over });

  const far = schedule(40);
  assert.equal(far.policyVersion, '1');
  assert.equal(far.notice, null, 'more than 30 days ahead: nothing yet');

  const soon = schedule(10);
  assert.equal(soon.policyVersion, '1', 'consent stays valid until the date');
  assert.deepEqual(soon.notice, { version: '2', at: Date.parse(at(10) + 'T00:00:00Z') });
  assert.equal(schedule(40, { policyNoticeDays: 45 }).notice.version, '2', 'configured notice period');
  assert.equal(schedule(1, { policyNoticeDays: 0 }).notice, null, 'no notice period');

  const due = schedule(0); // effective today 00:00 UTC, now is 12:00 UTC
  assert.equal(due.policyVersion, '2');
  assert.equal(due.notice, null);
  assert.equal(core.needsConsent(state(), due, NOW), true, 'asked again on the date');
  assert.equal(schedule(-3).policyVersion, '2');

  // Just before midnight UTC the old version is still in force.
  const eve = core.normalizeConfig({ policyVersion: '1', nextPolicyVersion: '2', nextPolicyEffective: '2024-06-02' },
    Date.parse('2024-06-01T23:59:59Z'));
  assert.equal(eve.policyVersion, '1');
  assert.ok(eve.notice);

  for (const broken of ['', 'soon', undefined]) {
    const c = config({ nextPolicyVersion: '2', nextPolicyEffective: broken });
    assert.equal(c.policyVersion, '1');
    assert.equal(c.notice, null);
  }
  assert.equal(config({ nextPolicyVersion: '', nextPolicyEffective: at(1) }).notice, null, 'no next version');
});

test('decisionFor maps actions to method and categories', () => {
  const c = config();
  assert.deepEqual(core.decisionFor('accept-all', null, NO_SIGNALS, c), {
    method: 'accept_all', categories: { necessary: true, preferences: true, statistics: true, marketing: true },
  });
  assert.deepEqual(core.decisionFor('reject-all', null, NO_SIGNALS, c), {
    method: 'reject_all', categories: { necessary: true, preferences: false, statistics: false, marketing: false },
  });
  assert.deepEqual(core.decisionFor('save', { statistics: true, necessary: false }, NO_SIGNALS, c), {
    method: 'custom', categories: { necessary: true, preferences: false, statistics: true, marketing: false },
  });
  assert.deepEqual(core.decisionFor('withdraw', null, NO_SIGNALS, c), {
    method: 'withdraw', categories: { necessary: true, preferences: false, statistics: false, marketing: false },
  });
});

test('categories the banner does not show are never granted', () => {
  const c = config({ categories: [{ key: 'necessary' }, { key: 'statistics' }] });
  assert.deepEqual(core.decisionFor('accept-all', null, NO_SIGNALS, c).categories,
    { necessary: true, preferences: false, statistics: true, marketing: false });
  assert.deepEqual(core.decisionFor('save', { marketing: true, statistics: true }, NO_SIGNALS, c).categories,
    { necessary: true, preferences: false, statistics: true, marketing: false });
});

test('the payload has exactly the categories the plugin lists in categoryKeys, the first always granted', () => {
  const c = config({ categories: [{ key: 'essential' }, { key: 'statistics' }], categoryKeys: ['essential', 'statistics', 'video'] });
  assert.deepEqual(core.decisionFor('accept-all', null, NO_SIGNALS, c).categories,
    { essential: true, statistics: true, video: false });
  assert.deepEqual(core.decisionFor('reject-all', null, NO_SIGNALS, c).categories,
    { essential: true, statistics: false, video: false });
  assert.deepEqual(core.normalizeConfig({ categories: ALL }, NOW).categoryKeys, KEYS, 'without the list: the shown keys');
});

test('GPC forces marketing off on accept all, with method gpc', () => {
  const gpc = { gpc: true, dnt: false };
  assert.deepEqual(core.decisionFor('accept-all', null, gpc, config()), {
    method: 'gpc', categories: { necessary: true, preferences: true, statistics: true, marketing: false },
  });
  const custom = core.decisionFor('save', { marketing: true, statistics: true }, gpc, config());
  assert.equal(custom.method, 'custom');
  assert.equal(custom.categories.marketing, false);
  assert.equal(core.decisionFor('reject-all', null, gpc, config()).method, 'reject_all');
  assert.equal(core.decisionFor('accept-all', null, gpc, config({ honorGpc: false })).categories.marketing, true);
});

test('an honoured signal overrides an earlier marketing grant as its own decision', () => {
  const prev = { necessary: true, preferences: true, statistics: false, marketing: true };
  assert.deepEqual(core.decisionFor('signal', null, { gpc: true, dnt: false }, config(), prev), {
    method: 'gpc', categories: { necessary: true, preferences: true, statistics: false, marketing: false },
  });
  assert.equal(core.decisionFor('signal', null, { gpc: false, dnt: true }, config({ honorDnt: true }), prev).method, 'dnt');
});

test('DNT is ignored by default and forces marketing off with method dnt when honoured', () => {
  const dnt = { gpc: false, dnt: true };
  assert.equal(core.decisionFor('accept-all', null, dnt, config()).method, 'accept_all');
  const d = core.decisionFor('accept-all', null, dnt, config({ honorDnt: true }));
  assert.equal(d.method, 'dnt');
  assert.equal(d.categories.marketing, false);
  assert.equal(core.decisionFor('accept-all', null, { gpc: true, dnt: true }, config({ honorDnt: true })).method, 'gpc',
    'GPC named first when both decide');
});

test('eventAction: grant first, update later, withdraw always', () => {
  assert.equal(core.eventAction('accept-all', false), 'grant');
  assert.equal(core.eventAction('save', true), 'update');
  assert.equal(core.eventAction('signal', true), 'update');
  assert.equal(core.eventAction('withdraw', true), 'withdraw');
  assert.equal(core.eventAction('withdraw', false), 'withdraw');
});

test('normalizeConfig fills what a broken config lacks and never throws', () => {
  const c = core.normalizeConfig({ lifetimeDays: 'x' }, NOW);
  assert.equal(c.lifetimeDays, 365);
  assert.deepEqual(c.categories.map((x) => x.key), ['necessary']);
  assert.deepEqual(c.texts, []);
  assert.doesNotThrow(() => core.normalizeConfig(null, NOW));
  assert.doesNotThrow(() => core.normalizeConfig('junk', NOW));
});

test('trimUrl keeps page URLs within the 2048 characters the REST route accepts', () => {
  const base = 'https://example.com/page/';
  assert.equal(core.trimUrl(base + '?a=1#x'), base + '?a=1#x');
  const longHash = base + '?a=1#' + 'h'.repeat(3000);
  assert.equal(core.trimUrl(longHash), base + '?a=1', 'the hash goes first');
  const longQuery = base + '?q=' + 'x'.repeat(3000) + '#top';
  assert.equal(core.trimUrl(longQuery), base, 'then the query');
  const longPath = 'https://example.com/' + 'p'.repeat(3000);
  assert.equal(core.trimUrl(longPath).length, 2048);
  assert.equal(core.trimUrl('https://example.com/' + 'p'.repeat(2028)).length, 2048, 'exactly 2048 is kept');
});

test('fill and esc: placeholders and HTML-safe text', () => {
  assert.equal(core.fill('on {date}, {x}', { date: 'June 1' }), 'on June 1, {x}');
  assert.equal(core.esc('<img src=x onerror="a()">&'), '&#60;img src=x onerror=&#34;a()&#34;&#62;&#38;');
  assert.equal(core.esc(null), '');
});
