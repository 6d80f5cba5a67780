#!/usr/bin/env node
// What every visitor downloads for the consent banner: our widget next to its peers, each
// minified with the same tools and gzipped (level 9) in this one run.
//
//   node bench/widget_size.mjs            (npm ci first: the peers are devDependencies)
//   COMPLIANZ_DIR=/path/to/complianz-gdpr node bench/widget_size.mjs
//
// Ours: wp-plugin/assets/widget.min.js, its stylesheet inside (built from the sources now,
// exactly as scripts/build-widget.mjs does) + the inline <head> snippet (Consent Mode defaults
// and the runtime guard) + the configuration island printed with it (texts, the guard's hosts),
// as tests/php/island-cli.php prints them for default settings.
// cookieconsent 3.1 (npm vanilla-cookieconsent): dist/cookieconsent.umd.js + dist/cookieconsent.css.
// Complianz: only on the WordPress.org plugin directory, which is no package registry this
// project installs from; measured when COMPLIANZ_DIR points at an unpacked copy of the plugin
// (cookiebanner/js/complianz.min.js + cookiebanner/css/defaults/banner-optin.min.css).
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { minify as minifyCss } from 'csso';
import { minify as minifyJs } from 'terser';
import { build } from '../scripts/build-widget.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const BUDGET = 6 * 1024;
const require = createRequire(import.meta.url);

const gz = (text) => gzipSync(Buffer.from(text), { level: 9 }).length;

/** The smaller of the shipped file and our own minification of it: the peer's best case. */
async function minifiedJs(code) {
  const ours = (await minifyJs(code, { ecma: 2020, compress: { passes: 3 }, mangle: true, format: { comments: false } })).code;
  return gz(ours) < gz(code) ? ours : code;
}
function minifiedCss(code) {
  const ours = minifyCss(code).css;
  return gz(ours) < gz(code) ? ours : code;
}

async function ours() {
  const files = Object.fromEntries((await build()).map((b) => [b.target.split('/').pop(), b.code]));
  const inline = execFileSync('php', [join(ROOT, 'tests/php/island-cli.php')], { encoding: 'utf8' });
  const [island, snippet] = inline.trim().split('\n');
  return {
    name: 'Secure Privacy (this repo)',
    js: gz(files['widget.min.js']) + gz(inline),
    css: 0,
    note: `sum = widget.min.js with its CSS ${gz(files['widget.min.js'])} + inline <head> ${gz(inline)} ` +
      `(island ${gz(island)}, Consent Mode + guard ${gz(snippet)}, one stream, as frontend.php prints them)`,
  };
}

async function cookieconsent() {
  let dist;
  try {
    dist = dirname(require.resolve('vanilla-cookieconsent/package.json'));
  } catch (e) {
    return { name: 'cookieconsent 3.1', skipped: 'npm package vanilla-cookieconsent not installed (npm ci)' };
  }
  const { version } = JSON.parse(readFileSync(join(dist, 'package.json'), 'utf8'));
  return {
    name: `cookieconsent ${version}`,
    js: gz(await minifiedJs(readFileSync(join(dist, 'dist/cookieconsent.umd.js'), 'utf8'))),
    css: gz(minifiedCss(readFileSync(join(dist, 'dist/cookieconsent.css'), 'utf8'))),
    note: 'npm vanilla-cookieconsent: dist/cookieconsent.umd.js + dist/cookieconsent.css',
  };
}

async function complianz() {
  const dir = process.env.COMPLIANZ_DIR;
  if (!dir) {
    return {
      name: 'Complianz',
      skipped: 'published only on the WordPress.org plugin directory, not on a package registry ' +
        '(npm, PyPI, Debian) this project installs from; set COMPLIANZ_DIR to an unpacked copy to measure it',
    };
  }
  const js = join(dir, 'cookiebanner/js/complianz.min.js');
  const css = join(dir, 'cookiebanner/css/defaults/banner-optin.min.css');
  if (!existsSync(js)) return { name: 'Complianz', skipped: `${js} not found` };
  return {
    name: 'Complianz',
    js: gz(await minifiedJs(readFileSync(js, 'utf8'))),
    css: existsSync(css) ? gz(minifiedCss(readFileSync(css, 'utf8'))) : 0,
    note: `${dir}: cookiebanner/js/complianz.min.js${existsSync(css) ? ' + css/defaults/banner-optin.min.css' : ' (CSS not found)'}`,
  };
}

const rows = [await ours(), await cookieconsent(), await complianz()];
const kb = (n) => (n / 1024).toFixed(2).padStart(6);
const pad = (s, n) => String(s).padEnd(n);
console.log(`${pad('banner', 30)} ${pad('JS gz', 9)} ${pad('CSS gz', 9)} ${pad('total gz', 10)} KiB`);
for (const r of rows) {
  if (r.skipped) {
    console.log(`${pad(r.name, 30)} skipped: ${r.skipped}`);
    continue;
  }
  const total = r.js + r.css;
  console.log(`${pad(r.name, 30)} ${pad(r.js, 9)} ${pad(r.css, 9)} ${pad(total, 10)} ${kb(total)}   (${r.note})`);
}
const total = rows[0].js + rows[0].css;
console.log(`budget (issue 14): ${BUDGET} bytes (6 KiB) for the sum of our JS + CSS + inline <head>: ${total} bytes, ` +
  `${total <= BUDGET ? 'within' : 'OVER'} (${BUDGET - total} to spare)`);
process.exitCode = total <= BUDGET ? 0 : 1;
