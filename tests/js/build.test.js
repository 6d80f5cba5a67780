'use strict';
// The minified assets the plugin serves: committed, fresh, within budget, and working.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const zlib = require('node:zlib');
const { loadPage } = require('./page.js');

const ASSETS = path.join(__dirname, '../../wp-plugin/assets');
const BUDGET = 6 * 1024; // issue 5: JS + CSS at most 6 KB gzipped, everything included
const gz = (file) => zlib.gzipSync(fs.readFileSync(path.join(ASSETS, file)), { level: 9 }).length;

test('the committed minified files are what scripts/build-widget.mjs makes from the sources', async () => {
  const { build } = await import('../../scripts/build-widget.mjs');
  const built = await build();
  assert.deepEqual(built.map((b) => path.basename(b.target)).sort(), ['widget-head.min.js', 'widget.min.css', 'widget.min.js']);
  for (const { target, code } of built) {
    assert.equal(fs.readFileSync(target, 'utf8'), code,
      `${path.basename(target)} is stale: run \`node scripts/build-widget.mjs\` and commit the result`);
  }
});

test('JS + CSS, minified and gzipped, stay within the 6 KB budget', () => {
  const sizes = { js: gz('widget.min.js'), head: gz('widget-head.min.js'), css: gz('widget.min.css') };
  const total = sizes.js + sizes.head + sizes.css;
  assert.ok(total <= BUDGET, `widget is ${total} bytes gzipped (${JSON.stringify(sizes)}), budget ${BUDGET}`);
  assert.ok(sizes.js > 1000 && sizes.css > 500, 'measured real files');
});

test('the minified widget works: accept all records, the Node-only export is gone', async () => {
  const source = fs.readFileSync(path.join(ASSETS, 'widget.min.js'), 'utf8');
  assert.doesNotMatch(source, /module\.exports/);
  const p = await loadPage({ source, body: '<script type="text/plain" data-sp-category="statistics">window.ran = 1</script>' });
  assert.ok(p.$('#sp-consent [role="dialog"]'));
  p.click('accept-all');
  assert.equal(p.calls[0].body.method, 'accept_all');
  assert.equal(p.w.ran, 1);
  assert.equal(p.$('[data-sp-action="open"]').hidden, false);
});
