/*! Secure Privacy | Google Consent Mode v2 defaults and the runtime guard */
// Printed inline first in <head>, right after the configuration island, before any tag.
//
// 1. Google Consent Mode: every consent type is denied until the widget (deferred, at
//    DOMContentLoaded) sends the stored choice of a returning visitor, or a new choice, in an
//    `sp:consent-mode` event, which this snippet turns into an `update` (the widget relies on it:
//    frontend.php always prints this snippet before the widget). Tags wait up to
//    `wait_for_update` ms for it. One place decides whether a stored consent is valid (the
//    widget), so the two can never disagree.
// 2. The guard (auto-blocking layer 3, docs/blocking.md): a <script> or <iframe> that a script
//    adds at runtime with the URL of a blocked service (the island's `block`: category -> host
//    patterns) is held in the blocked form of the page's own blocked elements (a script:
//    type="text/plain"; an iframe: data-sp-src, no src) before the browser can fetch it; the
//    widget releases it like any other once its category is granted. The hooks: the `src`
//    setters, setAttribute('src'), the insertion methods, and a MutationObserver as backstop.
((w, d) => {
  'use strict';
  const DENIED = 'denied';
  // Google Consent Mode v2 type -> the category that grants it.
  const MODE = {
    ad_storage: 'marketing', ad_user_data: 'marketing', ad_personalization: 'marketing',
    analytics_storage: 'statistics', functionality_storage: 'preferences', personalization_storage: 'preferences'
  };
  const mode = (categories) => {
    const m = {};
    for (const k in MODE) m[k] = categories[MODE[k]] ? 'granted' : DENIED;
    return m;
  };
  function gtag() {
    (w.dataLayer = w.dataLayer || []).push(arguments); // gtag.js reads Arguments objects, not arrays
  }
  gtag('consent', 'default', Object.assign(mode({}), { security_storage: 'granted', wait_for_update: 500 }));
  gtag('set', 'ads_data_redaction', true); // no ad click identifiers while ad_storage is denied
  // The widget (widget.js, deferred) sends its categories here, a returning visitor's on load and
  // every new choice, before it activates anything: the one place that maps them to Google's types.
  d.addEventListener('sp:consent-mode', (e) => gtag('consent', 'update', mode(e.detail)));

  let block;
  try {
    block = JSON.parse(d.getElementById('sp-consent-config').textContent).block;
  } catch (e) { /* no island: nothing to guard */ }
  if (!block) return;
  // Patterns: "host[:port]" (exact), ".suffix[:port]" (the host or any below it), either with a
  // "/path" prefix; category "necessary" marks what is never held (breaks-if-blocked, or a site
  // rule's exception inside a blocked suffix). Looked up as the plugin does: a path pattern
  // first (the most specific host, then the longest path), then the most specific host.
  const rules = []; // [host key, path prefix or '', category]
  for (const cat in block) {
    for (const p of block[cat].split(' ')) {
      const i = (p + '/').indexOf('/');
      rules.push([p.slice(0, i), p.slice(i), cat]);
    }
  }
  const E = w.Element.prototype;
  const setAttr = E.setAttribute;
  const attr = (el, name, value) => setAttr.call(el, name, value);

  /** [category, host] of an absolute http(s) URL of a blocked service not granted yet. */
  function blocked(url) {
    let u;
    try {
      // Relative: the site's own. A URL the browser cannot parse it cannot fetch either.
      u = /^\s*(https?:)?\/\//i.test(url) && new URL(url, d.baseURI);
    } catch (e) { /* never throw into the page's setAttribute */ }
    if (!u) return;
    const host = u.hostname.replace(/^\[|\]$/g, '');
    const port = u.port && ':' + u.port;
    const keys = [host + port, host];
    host.split('.').forEach((x, i, labels) => {
      const base = '.' + labels.slice(i).join('.');
      keys.push(base + port, base);
    });
    let cat;
    let best = 1e9;
    for (const [key, path, c] of rules) {
      const i = keys.indexOf(key);
      const score = (path ? 0 : 99) + i - path.length / 1e4;
      if (i >= 0 && u.pathname.startsWith(path) && score < best) {
        best = score;
        cat = c;
      }
    }
    const now = w.SecurePrivacy && w.SecurePrivacy.getConsent(); // the widget, once started
    if (cat && cat !== 'necessary' && !(now && now.categories[cat])) return [cat, host];
  }

  /**
   * Hold `el` (a script or an iframe that gets `url`): true when it is (still) held. The
   * page's own blocked forms (the plugin's, or tagged by hand) are left to the widget. `late`:
   * found by the MutationObserver while the page is parsing (a script the parser inserted is
   * released like the plugin's forms, by a new element).
   */
  function hold(el, url, late) {
    const tag = el.tagName;
    const b = url && /^(SCRIPT|IFRAME)$/.test(tag) && (el.spHeld || !el.hasAttribute('data-sp-category')) &&
      blocked(url);
    if (!b) return;
    attr(el, 'data-sp-category', b[0]);
    if (!el.hasAttribute('data-sp-service')) attr(el, 'data-sp-service', b[1]);
    if (tag === 'IFRAME') {
      attr(el, 'data-sp-src', url);
      el.removeAttribute('src');
    } else if (el.getAttribute('type') !== 'text/plain') {
      // Also when the page set the type again after the src.
      if (el.hasAttribute('type')) attr(el, 'data-sp-type', el.getAttribute('type'));
      attr(el, 'type', 'text/plain');
    }
    // Released in place otherwise (widget.js): the page keeps its element and its listeners,
    // and a script the browser would never have run (from innerHTML) still does not run.
    el.spHeld = el.spHeld || !(late && d.readyState === 'loading');
    return 1;
  }

  /** Hold what `node` (an element or a fragment) brings: true when something in it is held. */
  function scan(node, late) {
    let held;
    for (const el of node && node.querySelectorAll ? [node, ...node.querySelectorAll('script,iframe')] : []) {
      held = hold(el, el.getAttribute && el.getAttribute('src'), late) || el.spHeld || held;
    }
    return held;
  }
  // Tell the widget (it releases what is granted, puts placeholders before held frames).
  const tell = () => d.dispatchEvent(new w.Event('sp:held'));

  // The src setters and setAttribute: the URL is checked before it is set. A held script keeps
  // its src (type="text/plain" is never fetched), a held iframe gets data-sp-src instead.
  function setSrc(el, url, set) {
    const held = hold(el, String(url));
    if (!held || el.tagName === 'SCRIPT') set();
    if (held && el.isConnected) tell();
  }
  for (const C of [w.HTMLScriptElement, w.HTMLIFrameElement]) {
    const p = Object.getOwnPropertyDescriptor(C.prototype, 'src');
    Object.defineProperty(C.prototype, 'src', {
      get: p.get,
      set(v) {
        setSrc(this, v, () => p.set.call(this, v));
      },
      configurable: true
    });
  }
  E.setAttribute = function (name, value) {
    if (String(name).toLowerCase() !== 'src') return setAttr.call(this, name, value);
    setSrc(this, value, () => setAttr.call(this, name, value));
  };
  // The insertion methods: what is inserted is held before the browser sees it.
  for (const m of ['appendChild', 'insertBefore', 'replaceChild', 'append', 'prepend', 'before', 'after', 'replaceWith',
    'insertAdjacentElement']) {
    const o = m in w.Node.prototype ? w.Node.prototype : E;
    const f = o[m];
    o[m] = function () {
      let held;
      for (const a of arguments) held = scan(a) || held;
      const r = f.apply(this, arguments);
      if (held) tell();
      return r;
    };
  }
  // The backstop: what came in another way (innerHTML of an iframe, document.write).
  new w.MutationObserver((records) => {
    let held;
    for (const r of records) for (const n of r.addedNodes) held = scan(n, 1) || held;
    if (held) tell();
  }).observe(d.documentElement, { childList: true, subtree: true });
})(window, document);
