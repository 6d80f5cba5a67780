'use strict';
// The Site scan page's progress poll (wp-plugin/assets/admin.js): it asks admin-ajax.php (never
// the sidecar), shows the progress in the status region, shows the error message when the poll
// fails and keeps trying, and loads the page again once the scan is done. fetch and the timer
// are the boundary, faked here.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { JSDOM, VirtualConsole } = require('jsdom');

const SOURCE = fs.readFileSync(path.join(__dirname, '../../wp-plugin/assets/admin.js'), 'utf8');
const POLL = 'http://127.0.0.1:8080/wp-admin/admin-ajax.php?action=secure_privacy_scan_progress&scan=s1&nonce=abc';

function page(answers) {
  const events = { reloads: 0, calls: [], timers: [] };
  const virtualConsole = new VirtualConsole();
  virtualConsole.on('jsdomError', (e) => { if (/navigation/.test(e.message)) events.reloads += 1; });
  const dom = new JSDOM(`<!doctype html><body><div class="wrap">
    <div class="sp-scan-progress" data-sp-scan-progress="${POLL.replace(/&/g, '&amp;')}">
      <p role="status" aria-live="polite" data-sp-scan-text>Waiting for the scan worker to start…</p>
      <progress max="1" value="0"></progress>
    </div></div></body>`, { url: 'http://127.0.0.1:8080/wp-admin/admin.php?page=secure-privacy-scan', runScripts: 'outside-only', virtualConsole });
  const w = dom.window;
  w.setTimeout = (fn, ms) => { events.timers.push([fn, ms]); return events.timers.length; };
  w.fetch = (url, options) => {
    events.calls.push([url, options]);
    const next = answers.shift();
    return next instanceof Error ? Promise.reject(next) : Promise.resolve({ json: () => Promise.resolve(next) });
  };
  w.eval(SOURCE);
  const settle = () => new Promise((resolve) => setImmediate(resolve));
  return {
    w,
    events,
    text: () => w.document.querySelector('[data-sp-scan-text]').textContent,
    bar: () => w.document.querySelector('progress'),
    async tick() {
      const [fn] = events.timers.shift();
      fn();
      for (let i = 0; i < 5; i += 1) await settle();
    },
  };
}

test('the poll shows the progress, then loads the page again when the scan is done', async () => {
  const p = page([
    { success: true, data: { status: 'running', done: 3, total: 12, text: 'Scanning: 3 of 12 pages done.' } },
    { success: true, data: { status: 'done', done: 12, total: 12, text: 'Done' } },
  ]);
  assert.equal(p.events.calls.length, 0, 'nothing is asked before the first tick');
  assert.equal(p.events.timers.length, 1);
  await p.tick();
  assert.equal(p.events.calls[0][0], POLL, 'admin-ajax.php, the only address the browser knows');
  assert.equal(p.events.calls[0][1].credentials, 'same-origin');
  assert.equal(p.text(), 'Scanning: 3 of 12 pages done.');
  assert.equal(p.bar().max, 12);
  assert.equal(p.bar().value, 3);
  assert.equal(p.events.reloads, 0);
  await p.tick();
  assert.equal(p.events.reloads, 1, 'the finished report is rendered by the server');
  assert.equal(p.events.timers.length, 0, 'no more polling');
});

test('a failed poll shows the error message and tries again later', async () => {
  const p = page([
    { success: false, data: { message: 'The sidecar did not answer: connection refused' } },
    new Error('offline'),
    { success: true, data: { status: 'failed', done: 0, total: 0, text: 'Failed' } },
  ]);
  await p.tick();
  assert.equal(p.text(), 'The sidecar did not answer: connection refused');
  assert.equal(p.events.timers.length, 1);
  assert.ok(p.events.timers[0][1] >= 5000, 'backs off after an error');
  await p.tick();
  assert.equal(p.events.timers.length, 1, 'a network error is retried too');
  await p.tick();
  assert.equal(p.events.reloads, 1);
});

test('a page without a running scan polls nothing', () => {
  const dom = new JSDOM('<!doctype html><body></body>', { runScripts: 'outside-only' });
  let asked = 0;
  dom.window.fetch = () => { asked += 1; };
  dom.window.eval(SOURCE);
  assert.equal(asked, 0);
});
