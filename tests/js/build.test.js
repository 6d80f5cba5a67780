'use strict';
// The minified assets the plugin serves: committed, fresh, within budget, and working.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const zlib = require('node:zlib');
const { execFileSync } = require('node:child_process');
const { loadPage, siteConfig } = require('./page.js');

const ASSETS = path.join(__dirname, '../../wp-plugin/assets');
const BUDGET = 6 * 1024; // issues 5 and 14: JS + CSS at most 6 KB gzipped
// What the plugin prints inline in every page's <head> (the island: settings, texts, the guard's
// host patterns; the Consent Mode defaults and the guard). Issue 14 counts it in the 6 KB too;
// with the guard it does not fit (docs/blocking.md, "Size"): this ceiling keeps it from growing.
const INLINE_CEILING = 3 * 1024;
const gzText = (text) => zlib.gzipSync(Buffer.from(text), { level: 9 }).length;
const gz = (file) => gzText(fs.readFileSync(path.join(ASSETS, file)));

test('the committed minified files are what scripts/build-widget.mjs makes from the sources', async () => {
  const { build } = await import('../../scripts/build-widget.mjs');
  const built = await build();
  assert.deepEqual(built.map((b) => path.basename(b.target)).sort(), ['widget-head.min.js', 'widget.min.js']);
  assert.equal(fs.existsSync(path.join(ASSETS, 'widget.min.css')), false, 'the stylesheet is inside widget.min.js');
  for (const { target, code } of built) {
    assert.equal(fs.readFileSync(target, 'utf8'), code,
      `${path.basename(target)} is stale: run \`node scripts/build-widget.mjs\` and commit the result`);
  }
});

test('the widget file (JS with its stylesheet) stays within 6 KB gzipped; the inline <head> part is measured too', (t) => {
  const js = gz('widget.min.js');
  // As the plugin prints it (tests/php/island-cli.php: default settings, English): the island
  // and the snippet are adjacent in the page, so one gzip stream, as the page is served.
  const inline = execFileSync('php', [path.join(__dirname, '../php/island-cli.php')], { encoding: 'utf8' });
  const [island, snippet] = inline.trim().split('\n');
  assert.match(island, /^<script type="application\/json" id="sp-consent-config">\{.*"block":\{.*<\/script>$/);
  assert.equal(snippet, `<script id="sp-consent-mode">${fs.readFileSync(path.join(ASSETS, 'widget-head.min.js'), 'utf8').trim()}</script>`);
  const sizes = { js, inline: gzText(inline), island: gzText(island), snippet: gzText(snippet) };
  t.diagnostic(`gzipped bytes: ${JSON.stringify(sizes)}; widget + inline = ${js + sizes.inline} (issue 14's goal ${BUDGET})`);
  assert.ok(js <= BUDGET, `widget.min.js is ${js} bytes gzipped, budget ${BUDGET}`);
  assert.ok(sizes.inline <= INLINE_CEILING, `the inline <head> part is ${sizes.inline} bytes gzipped, ceiling ${INLINE_CEILING}`);
  const source = fs.readFileSync(path.join(ASSETS, 'widget.min.js'), 'utf8');
  assert.match(source, /#sp-consent\{[^"]*\.sp-blocked/, 'the stylesheet is in the widget');
  assert.ok(js > 3000 && sizes.island > 500 && sizes.snippet > 500, 'measured real files');
});

test('the minified widget works: accept all records, the Node-only export is gone', async () => {
  const source = fs.readFileSync(path.join(ASSETS, 'widget.min.js'), 'utf8');
  assert.doesNotMatch(source, /module\.exports/);
  const css = '#sp-consent,.sp-blocked{--sp-primary:#123456}';
  const p = await loadPage({ source, config: siteConfig({ css }), body: '<script type="text/plain" data-sp-category="statistics">window.ran = 1</script>' });
  assert.ok(p.$('#sp-consent [role="dialog"]'));
  p.click('accept-all');
  assert.equal(p.calls[0].body.method, 'accept_all');
  assert.equal(p.w.ran, 1);
  assert.equal(p.$('[data-sp-action="open"]').hidden, false);
  const style = p.$('style#sp-consent-css');
  assert.ok(style && style.parentNode === p.w.document.head, 'the stylesheet is injected into <head>');
  assert.ok(style.textContent.endsWith('}' + css), 'the site colour last');
  assert.ok(style.textContent.length > 3000, 'the whole stylesheet');
  assert.equal(p.w.getComputedStyle(p.$('#sp-consent')).position, 'fixed');
});
