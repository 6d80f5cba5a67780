'use strict';
// Auto-blocking layer 3 (issue 14): the runtime guard in the <head> snippet holds scripts and
// iframes that a page's scripts add with a blocked service's URL, and the widget releases them
// once the category is granted; blocked embeds get a one-click placeholder. The guard's patterns
// are the plugin's own (tests/php/island-cli.php prints what a page gets).
const test = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const path = require('node:path');
const { HEAD, siteConfig, loadPage, plain, settle, returningJar } = require('./page.js');

const CLI = path.join(__dirname, '../php/island-cli.php');
/** The island the plugin prints (default settings), with optional site rules. */
function island(rules) {
  const html = execFileSync('php', [CLI, ...(rules ? [JSON.stringify(rules)] : [])], { encoding: 'utf8' });
  return JSON.parse(html.match(/id="sp-consent-config">(.*?)<\/script>/)[1]);
}
const BLOCK = island().block;

const PIXEL = 'https://connect.facebook.net/en_US/fbevents.js'; // Meta Pixel: marketing
const STATS = 'https://www.googletagmanager.com/gtag/js?id=G-1'; // Google tag: statistics
const VIDEO = 'https://www.youtube.com/embed/xyz'; // YouTube: marketing
const SAFE = 'https://www.google.com/recaptcha/api.js'; // breaks if blocked
const PAY = 'https://js.stripe.com/v3/'; // breaks if blocked

/** What layers 1 and 2 decide for each URL (tests/php/block-cli.php): blocked or not. */
function plugin(urls, rules = []) {
  const out = execFileSync('php', [path.join(__dirname, '../php/block-cli.php')], { input: JSON.stringify({ rules, urls }), encoding: 'utf8' });
  return JSON.parse(out).map((c) => (c && !c.breaks && c.category !== 'necessary' ? c.category : null));
}

const page = (opts = {}) => loadPage({ head: HEAD, config: siteConfig({ block: BLOCK }), ...opts });
const fetched = (p, url) => p.requests.filter((u) => u === url).length;

/** A tag manager adding a script the usual ways. */
function inject(w, how, url) {
  const d = w.document;
  const s = d.createElement('script');
  s.async = true;
  s.loaded = 0;
  s.addEventListener('load', () => { s.loaded += 1; });
  if (how === 'property') s.src = url;
  else s.setAttribute('src', url);
  const first = d.getElementsByTagName('script')[0];
  first.parentNode.insertBefore(s, first); // as Google's snippets do
  return s;
}

test('the plugin hands the guard host patterns by category, breaks-if-blocked services never blocked', () => {
  assert.deepEqual(Object.keys(BLOCK).sort(), ['marketing', 'preferences', 'statistics']);
  const all = (cat) => BLOCK[cat].split(' ');
  assert.ok(all('marketing').includes('.facebook.net') && all('marketing').includes('.youtube.com'));
  assert.ok(all('statistics').includes('.google-analytics.com'));
  assert.equal(BLOCK.necessary, undefined, 'no exception needed: nothing blocked would catch reCAPTCHA');
  assert.ok(!all('statistics').includes('www.googletagmanager.com'), 'left out: .googletagmanager.com says the same');
  for (const cat of ['marketing', 'preferences', 'statistics']) {
    assert.ok(!/stripe|paypal|hcaptcha|recaptcha|turnstile|i0\.wp\.com/.test(BLOCK[cat]), `${cat}: ${BLOCK[cat]}`);
  }
  // A site rule blocking all of google.com still leaves reCAPTCHA alone; one naming Stripe is ignored.
  const ruled = island([{ kind: 'request', pattern: '.google.com', category: 'marketing' },
    { kind: 'request', pattern: 'js.stripe.com', category: 'marketing' }]).block;
  assert.ok(ruled.marketing.split(' ').includes('.google.com'));
  assert.deepEqual(ruled.necessary.split(' '), ['www.google.com/recaptcha/'], 'the exception inside the blocked suffix');
  assert.ok(!/stripe/.test(JSON.stringify(ruled)));
});

test('the guard decides every catalogue pattern as layers 1 and 2 do, with and without site rules', async () => {
  const catalogue = JSON.parse(execFileSync('php', ['-r',
    'define("ABSPATH", "/"); echo json_encode(require "wp-plugin/data/catalogue.php");'], { cwd: path.join(__dirname, '../..'), encoding: 'utf8' }));
  const urls = [];
  for (const h of Object.keys(catalogue.host)) urls.push(`https://${h}/x.js`);
  for (const h of Object.keys(catalogue.suffix)) urls.push(`https://${h}/x.js`, `https://a.b.${h}/x.js`);
  for (const [h, list] of Object.entries(catalogue.url)) {
    for (const [prefix] of list) urls.push(`https://${h}${prefix}x.js`, `https://${h}/other/x.js`, `https://sub.${h}${prefix}x.js`);
  }
  urls.push('https://www.google.com/', 'https://example.org/x.js');
  for (const rules of [[], [{ kind: 'request', pattern: '.google.com', category: 'marketing' },
    { kind: 'request', pattern: 'www.googletagmanager.com', category: 'necessary' },
    { kind: 'request', pattern: 'cdn.example.org', category: 'statistics' }]]) {
    const want = plugin(urls.concat(['https://cdn.example.org/x.js']), rules);
    const p = await page({ config: siteConfig({ block: island(rules.length ? rules : null).block }) });
    const got = urls.concat(['https://cdn.example.org/x.js']).map((u) => {
      const s = p.w.document.createElement('script');
      s.src = u;
      return s.getAttribute('data-sp-category');
    });
    const diff = urls.map((u, i) => [u, want[i], got[i]]).filter(([, a, b]) => a !== b);
    assert.deepEqual(diff, [], `rules ${JSON.stringify(rules)}`);
    assert.ok(want.filter(Boolean).length > 40 && want.filter((x) => !x).length > 10, 'both kinds checked');
  }
});

test('a script added at runtime (src property or setAttribute) is held, then runs on its own element once granted', async () => {
  const p = await page();
  const a = inject(p.w, 'property', PIXEL);
  const b = inject(p.w, 'attribute', STATS);
  await settle();
  assert.equal(fetched(p, PIXEL) + fetched(p, STATS), 0, 'nothing fetched before consent');
  assert.deepEqual([a.type, a.getAttribute('data-sp-category'), a.getAttribute('data-sp-service')],
    ['text/plain', 'marketing', 'connect.facebook.net'], 'the blocked form of layer 2');
  assert.equal(b.getAttribute('data-sp-category'), 'statistics');
  assert.equal(b.getAttribute('src'), STATS, 'a held script keeps its src (text/plain is never fetched)');

  p.click('reject-all');
  await settle();
  assert.equal(p.requests.length, 0, 'none after Reject all');
  const c = inject(p.w, 'property', PIXEL);
  await settle();
  assert.equal(c.type, 'text/plain', 'added after Reject all: held too');
  assert.equal(p.requests.length, 0);

  p.click('open');
  p.$('input[data-sp-category="statistics"]').click();
  p.click('save');
  await settle();
  assert.deepEqual(p.requests, [STATS], 'only the granted category');
  assert.equal(b.isConnected, true, 'released in place: the page keeps its element');
  assert.equal(b.hasAttribute('type'), false);
  assert.equal(b.loaded, 1, 'and its load listener fires');

  p.click('open');
  p.click('accept-all');
  await settle();
  assert.equal(fetched(p, PIXEL), 2, 'both held pixel scripts, once each');
  assert.equal(fetched(p, STATS), 1, 'never twice');
  assert.equal(a.loaded, 1);
  assert.deepEqual(plain(p.w.ran).sort(), [PIXEL, PIXEL, STATS]);

  const later = inject(p.w, 'property', PIXEL);
  await settle();
  assert.equal(later.hasAttribute('type'), false, 'granted: not held at all');
  assert.equal(fetched(p, PIXEL), 3);
});

test('a held script keeps its original type, and the page setting the type again after src does not unblock it', async () => {
  const p = await page();
  const d = p.w.document;
  const s = d.createElement('script');
  s.type = 'module';
  s.src = PIXEL;
  s.type = 'text/javascript'; // after the src: would run if the guard only looked at the setter
  d.head.appendChild(s);
  await settle();
  assert.equal(s.type, 'text/plain');
  assert.equal(s.getAttribute('data-sp-type'), 'text/javascript');
  assert.equal(p.requests.length, 0);
  p.click('accept-all');
  await settle();
  assert.equal(s.getAttribute('type'), 'text/javascript');
  assert.equal(fetched(p, PIXEL), 1);
});

test('a script inside innerHTML is held when the markup is inserted', async () => {
  const p = await page();
  const div = p.w.document.createElement('div');
  div.innerHTML = `<script src="${PIXEL}"></script>`;
  p.w.document.body.append(div);
  await settle();
  assert.equal(p.requests.length, 0);
  assert.equal(div.firstChild.getAttribute('type'), 'text/plain');
  assert.equal(div.firstChild.getAttribute('data-sp-category'), 'marketing');
});

test('breaks-if-blocked and unknown services are never held, nor are the site\'s own scripts', async () => {
  const p = await page();
  const urls = [SAFE, PAY, 'https://cdn.example.net/lib.js', '/wp-content/themes/t/app.js'];
  const els = urls.map((u) => inject(p.w, 'property', u));
  await settle();
  assert.deepEqual(els.map((e) => e.getAttribute('type')), [null, null, null, null]);
  assert.deepEqual(p.requests, urls.slice(0, 3).concat(['http://127.0.0.1:8080/wp-content/themes/t/app.js']));
});

test('an iframe added at runtime is held with a placeholder of its size, and loads once granted', async () => {
  const p = await page({ setup: sized });
  const d = p.w.document;
  const f = d.createElement('iframe');
  f.setAttribute('width', '560');
  f.setAttribute('height', '315');
  f.setAttribute('title', 'A video');
  f.src = VIDEO;
  d.querySelector('main').appendChild(f);
  await settle();
  assert.equal(p.requests.length, 0);
  assert.equal(f.hasAttribute('src'), false);
  assert.equal(f.getAttribute('data-sp-src'), VIDEO);
  const ph = f.previousElementSibling;
  assert.equal(ph.className, 'sp-blocked');
  assert.equal(ph.getAttribute('style'), 'width:560px;height:315px');
  assert.equal(ph.querySelector('[data-sp-action="load"]').textContent, 'Load www.youtube.com — this allows Marketing');
  p.click('accept-all');
  await settle();
  assert.equal(f.getAttribute('src'), VIDEO);
  assert.deepEqual(p.requests, [VIDEO]);
  assert.equal(d.querySelector('.sp-blocked'), null);
});

test('the MutationObserver backstop holds a frame that came another way (insertAdjacentHTML)', async () => {
  const p = await page();
  p.w.document.body.insertAdjacentHTML('beforeend', `<iframe id="late" src="${VIDEO}" width="300" height="200"></iframe>`);
  await settle();
  const f = p.$('#late');
  assert.equal(f.hasAttribute('src'), false, 'src taken away');
  assert.equal(f.getAttribute('data-sp-src'), VIDEO);
  assert.equal(f.previousElementSibling.className, 'sp-blocked');
  p.click('accept-all');
  assert.equal(f.getAttribute('src'), VIDEO);
});

test('before the widget starts, a returning visitor\'s granted scripts are held, then released when it does', async () => {
  const p = await page({
    jar: returningJar({ categories: { necessary: true, statistics: true, marketing: false } }),
    body: `<script>
      window.loads = [];
      for (const u of [${JSON.stringify(STATS)}, ${JSON.stringify(PIXEL)}]) {
        const s = document.createElement('script'); s.src = u; s.id = u.slice(-3);
        s.onload = () => window.loads.push(u);
        document.body.appendChild(s);
      }</script>`,
  });
  await settle();
  assert.deepEqual(p.requests, [STATS], 'statistics granted: released by the widget; marketing still held');
  assert.deepEqual(plain(p.w.loads), [STATS], 'in place, though added while the page was parsing: its onload fires');
  assert.equal(p.$$('script[src]').filter((e) => e.src === STATS).length, 1);
});

// jsdom has no layout: an element's size is its width/height attributes.
function sized(w) {
  for (const [prop, name] of [['offsetWidth', 'width'], ['offsetHeight', 'height']]) {
    Object.defineProperty(w.HTMLElement.prototype, prop, { get() { return +this.getAttribute(name) || 0; }, configurable: true });
  }
}

const FRAME = '<iframe id="v" data-sp-src="/embed/v.html" data-sp-category="marketing" data-sp-service="YouTube" title="Video" width="480" height="270"></iframe>';

test('placeholder: same size, "Load YouTube — this allows Marketing"; one click records a consent granting it and loads the embed', async () => {
  const p = await loadPage({ body: FRAME, setup: sized });
  const frame = p.$('#v');
  const ph = frame.previousElementSibling;
  assert.equal(ph.getAttribute('style'), 'width:480px;height:270px', 'no layout shift');
  const load = ph.querySelector('[data-sp-action="load"]');
  assert.equal(load.textContent, 'Load YouTube — this allows Marketing');
  assert.equal(load.type, 'button');
  assert.ok(ph.querySelector('[data-sp-action="open"]'), 'the choices, too');
  assert.ok(p.$('#sp-consent [role="dialog"]'), 'first visit: the dialog is open');

  load.click();
  assert.equal(p.calls.length, 1, 'one consent POST');
  const body = p.calls[0].body;
  assert.equal(body.method, 'custom');
  assert.equal(body.action, 'grant');
  assert.deepEqual(body.categories, { necessary: true, preferences: false, statistics: false, marketing: true });
  assert.equal(frame.getAttribute('src'), '/embed/v.html');
  assert.equal(frame.style.display, '');
  assert.equal(p.$('.sp-blocked'), null);
  assert.equal(p.$('#sp-consent [role="dialog"]'), null, 'the decision closes the dialog');
  assert.equal(p.$('[data-sp-action="open"]').hidden, false);
  assert.equal(p.w.SecurePrivacy.getConsent().categories.marketing, true);
  assert.equal(p.stored().categories.marketing, true);
  assert.deepEqual(p.events.map((e) => e[0]).filter((n) => n !== 'wp_consent_type_defined'), ['sp:consent', 'sp:change']);
});

test('placeholder one click keeps what a returning visitor granted before, as an update', async () => {
  const p = await loadPage({ body: FRAME, jar: returningJar() }); // statistics granted
  p.$('.sp-blocked [data-sp-action="load"]').click();
  const body = p.calls[0].body;
  assert.equal(body.action, 'update');
  assert.deepEqual(body.categories, { necessary: true, preferences: false, statistics: true, marketing: true });
  assert.equal(p.$('#v').getAttribute('src'), '/embed/v.html');
});

test('no "Load" button where an honoured GPC signal keeps the needed category off', async () => {
  const p = await loadPage({ body: FRAME + FRAME.replace('id="v"', 'id="m"').replace('marketing', 'preferences'), gpc: true });
  const [video, map] = p.$$('.sp-blocked');
  assert.equal(video.querySelector('[data-sp-action="load"]'), null, 'a click could not grant marketing');
  assert.ok(video.querySelector('[data-sp-action="open"]'));
  map.querySelector('[data-sp-action="load"]').click();
  assert.equal(p.calls[0].body.categories.preferences, true);
  assert.equal(p.$('#m').getAttribute('src'), '/embed/v.html');
});

test('a URL the guard cannot parse is set as the page asked, without an exception', async () => {
  const p = await page();
  const s = p.w.document.createElement('script');
  assert.doesNotThrow(() => s.setAttribute('src', 'https://[bad/x.js'));
  assert.doesNotThrow(() => { s.src = '//[::1'; });
  assert.equal(s.getAttribute('src'), '//[::1');
  assert.equal(s.hasAttribute('type'), false);
});
