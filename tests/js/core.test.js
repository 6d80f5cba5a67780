'use strict';
// Unit tests of the widget's pure core: cookie format, re-ask rules, decisions.
const test = require('node:test');
const assert = require('node:assert/strict');
const { webcrypto } = require('node:crypto');
const core = require('../../wp-plugin/assets/widget.js');

const UUID4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const config = (over) => core.normalizeConfig({ policyVersion: '1', bannerVersion: 'ab12', lifetimeDays: 365, ...over });
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
  const ids = new Set(Array.from({ length: 200 }, () => core.uuid4(webcrypto)));
  assert.equal(ids.size, 200);
  for (const id of ids) assert.match(id, UUID4);
});

test('cookie round-trips and is URI-encoded with the right attributes', () => {
  const s = state();
  const header = core.serializeCookie(s, 365, false);
  const [pair, ...attrs] = header.split('; ');
  assert.ok(pair.startsWith('sp_consent='));
  assert.doesNotMatch(pair.slice('sp_consent='.length), /[{}" ;,]/);
  assert.deepEqual(attrs, ['Max-Age=31536000', 'Path=/', 'SameSite=Lax']);
  assert.deepEqual(core.parseCookie(`other=1; ${pair}; last=2`), s);
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
});

test('needsConsent asks again on no state, new policy version, expiry or a broken date', () => {
  const now = Date.parse('2024-06-01T00:00:00Z');
  assert.equal(core.needsConsent(null, config(), now), true);
  assert.equal(core.needsConsent(state(), config(), now), false);
  assert.equal(core.needsConsent(state(), config({ policyVersion: '2' }), now), true);
  assert.equal(core.needsConsent(state(), config({ policyVersion: 1 }), now), false, 'numeric version compares as string');
  assert.equal(core.needsConsent(state(), config({ lifetimeDays: 30 }), now), true);
  assert.equal(core.needsConsent(state(), config({ lifetimeDays: 31 }), now), false);
  assert.equal(core.needsConsent(state({ given_at: 'yesterday' }), config(), now), true);
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

test('DNT is ignored by default and forces marketing off with method dnt when honoured', () => {
  const dnt = { gpc: false, dnt: true };
  assert.equal(core.decisionFor('accept-all', null, dnt, config()).method, 'accept_all');
  const d = core.decisionFor('accept-all', null, dnt, config({ honorDnt: true }));
  assert.equal(d.method, 'dnt');
  assert.equal(d.categories.marketing, false);
});

test('eventAction: grant first, update later, withdraw always', () => {
  assert.equal(core.eventAction('accept-all', false), 'grant');
  assert.equal(core.eventAction('save', true), 'update');
  assert.equal(core.eventAction('withdraw', true), 'withdraw');
  assert.equal(core.eventAction('withdraw', false), 'withdraw');
});

test('normalizeConfig falls back to English defaults for missing keys', () => {
  const c = core.normalizeConfig({ texts: { title: 'Integritet' }, lifetimeDays: 'x' });
  assert.equal(c.texts.title, 'Integritet');
  assert.equal(c.texts.acceptAll, 'Accept all');
  assert.equal(c.texts.rejectAll, 'Reject all');
  assert.equal(c.texts.preferences, 'Preferences');
  assert.equal(c.texts.save, 'Save choices');
  assert.equal(c.texts.withdraw, 'Withdraw consent');
  assert.equal(c.texts.open, 'Privacy settings');
  assert.equal(c.lifetimeDays, 365);
  assert.deepEqual(c.categories.map((x) => x.key), ['necessary', 'preferences', 'statistics', 'marketing']);
  assert.equal(c.honorGpc, true);
  assert.equal(c.honorDnt, false);
  assert.doesNotThrow(() => core.normalizeConfig(null));
});

test('consentModeFor maps categories to Google Consent Mode v2 fields', () => {
  assert.deepEqual(core.consentModeFor({ necessary: true, preferences: true, statistics: false, marketing: true }), {
    analytics_storage: 'denied', ad_storage: 'granted', ad_user_data: 'granted', ad_personalization: 'granted',
    functionality_storage: 'granted', personalization_storage: 'granted',
  });
});
