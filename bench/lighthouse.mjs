#!/usr/bin/env node
// Lighthouse 12 (npm, pinned in package.json) on one URL, with and without the plugin: median
// of N runs per mode, interleaved (on, off, on, off, …) so the machine's load weighs on both
// alike. Mobile preset (Lighthouse's default: Moto G Power, simulated slow 4G and 4x CPU
// throttling), storage cleared before each run (a first visit: the banner shows). "Without"
// sends X-SP-Bench-Inactive: 1, which the bench's must-use plugin (bench/plugin_render.py)
// answers by leaving Secure Privacy out of the active plugins: the same site and server.
//
//   node bench/lighthouse.mjs <url> [--runs 3]      (bench/lighthouse.py starts a WordPress)
//
// Prints JSON: per mode the median FCP, LCP, TBT, CLS, accessibility score, request count and
// the render-blocking requests Lighthouse lists.
import * as chromeLauncher from 'chrome-launcher';
import lighthouse from 'lighthouse';

const args = process.argv.slice(2);
const url = args.find((a) => /^https?:/.test(a));
const runs = Number(args[args.indexOf('--runs') + 1]) || 3;
if (!url) {
  console.error('usage: node bench/lighthouse.mjs <url> [--runs 3]');
  process.exit(2);
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// Debian's chromium, headless, on the bench's own loopback WordPress only. Without its sandbox
// when run as root (Chromium refuses otherwise) or with SP_BENCH_NO_SANDBOX=1 (a kernel that
// does not let this user create the namespaces the sandbox needs; see sidecar/browser.py).
const noSandbox = process.getuid?.() === 0 || process.env.SP_BENCH_NO_SANDBOX === '1';
const chrome = await chromeLauncher.launch({
  chromePath: process.env.CHROME_PATH || '/usr/bin/chromium',
  chromeFlags: ['--headless=new', '--disable-gpu', '--no-first-run', '--disable-dev-shm-usage', '--mute-audio',
    ...(noSandbox ? ['--no-sandbox'] : [])],
});
const samples = { with: [], without: [] };
try {
  for (let i = 0; i < runs; i++) {
    for (const mode of ['with', 'without']) {
      const { lhr } = await lighthouse(url, {
        port: chrome.port, output: 'json', logLevel: 'error', onlyCategories: ['performance', 'accessibility'],
        extraHeaders: mode === 'without' ? { 'X-SP-Bench-Inactive': '1' } : {},
      });
      if (lhr.runtimeError) throw new Error(`${mode}: ${lhr.runtimeError.code} ${lhr.runtimeError.message}`);
      const a = lhr.audits;
      samples[mode].push({
        fcp: a['first-contentful-paint'].numericValue,
        lcp: a['largest-contentful-paint'].numericValue,
        tbt: a['total-blocking-time'].numericValue,
        cls: a['cumulative-layout-shift'].numericValue,
        accessibility: Math.round(lhr.categories.accessibility.score * 100),
        failing: Object.values(a).filter((x) => x.score === 0 && x.scoreDisplayMode === 'binary' &&
          lhr.categories.accessibility.auditRefs.some((r) => r.id === x.id)).map((x) => x.id),
        requests: a['network-requests'].details.items.length,
        renderBlocking: (a['render-blocking-resources'].details?.items || []).map((x) => x.url),
        preset: `${lhr.configSettings.formFactor}, ${lhr.configSettings.throttlingMethod}`,
      });
    }
  }
} finally {
  await chrome.kill();
}
const summary = {};
for (const [mode, list] of Object.entries(samples)) {
  summary[mode] = {
    runs: list.length, preset: list[0].preset,
    fcp_ms: median(list.map((s) => s.fcp)), lcp_ms: median(list.map((s) => s.lcp)),
    tbt_ms: median(list.map((s) => s.tbt)), cls: median(list.map((s) => s.cls)),
    accessibility: median(list.map((s) => s.accessibility)),
    accessibility_failing: [...new Set(list.flatMap((s) => s.failing))],
    requests: median(list.map((s) => s.requests)),
    render_blocking: [...new Set(list.flatMap((s) => s.renderBlocking))],
    fcp_samples: list.map((s) => Math.round(s.fcp)), lcp_samples: list.map((s) => Math.round(s.lcp)),
  };
}
summary.delta = {
  fcp_ms: Math.round(summary.with.fcp_ms - summary.without.fcp_ms),
  lcp_ms: Math.round(summary.with.lcp_ms - summary.without.lcp_ms),
  requests: summary.with.requests - summary.without.requests,
};
console.log(JSON.stringify(summary, null, 2));
