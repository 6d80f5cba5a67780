#!/usr/bin/env node
// Build the minified widget assets that the plugin serves (committed, because site owners copy
// wp-plugin/ as it is):
//   wp-plugin/assets/widget.js + widget.css -> widget.min.js  (csso, then terser: the minified
//       stylesheet goes into the widget's `CSS` constant, injected when it starts, so the page
//       has no render-blocking stylesheet request and one gzip stream fewer)
//   wp-plugin/assets/widget-head.js -> widget-head.min.js  (terser; printed inline in <head>)
// Usage: node scripts/build-widget.mjs [--check]
//   --check  write nothing; exit 1 if a committed minified file differs from a fresh build.
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { minify as minifyJs } from 'terser';
import { minify as minifyCss } from 'csso';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const ASSETS = join(ROOT, 'wp-plugin', 'assets');

const TERSER = {
  ecma: 2020,
  // `module` is false in the browser: the Node-only export of the pure core is dropped.
  compress: { passes: 3, global_defs: { module: false } },
  mangle: true,
  format: { comments: /^!/ }, // keep the /*! licence line
};

/** The minified files: [{source, target, code}] built from the current sources. */
export async function build() {
  const out = [];
  const { css } = minifyCss(await readFile(join(ASSETS, 'widget.css'), 'utf8'), { comments: false });
  for (const [name, inline] of [['widget.js', false], ['widget-head.js', true]]) {
    const source = join(ASSETS, name);
    let code = await readFile(source, 'utf8');
    if (!inline) {
      const empty = "const CSS = '';";
      if (!code.includes(empty)) throw new Error(`${name}: no \`${empty}\` to put the stylesheet in`);
      code = code.replace(empty, `const CSS = ${JSON.stringify(css)};`);
    }
    const result = await minifyJs(code, {
      ...TERSER,
      // The head snippet goes into every page's HTML: no comment at all there.
      format: inline ? { comments: false } : TERSER.format,
    });
    out.push({ source, target: source.replace(/\.js$/, '.min.js'), code: result.code + '\n' });
  }
  return out;
}

async function main() {
  const check = process.argv.includes('--check');
  let stale = 0;
  for (const { source, target, code } of await build()) {
    const name = relative(ROOT, target);
    if (check) {
      const current = await readFile(target, 'utf8').catch(() => null);
      if (current !== code) {
        stale += 1;
        console.error(`${name} is stale: run node scripts/build-widget.mjs`);
      }
    } else {
      await writeFile(target, code);
      console.log(`${relative(ROOT, source)} -> ${name} (${Buffer.byteLength(code)} bytes)`);
    }
  }
  process.exitCode = stale ? 1 : 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
