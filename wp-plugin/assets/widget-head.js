/*! Secure Privacy | Google Consent Mode v2 defaults and the runtime guard */
// Printed inline first in <head>, right after the configuration island, before any tag.
//
// 1. Google Consent Mode: every consent type is denied until the widget (deferred, at
//    DOMContentLoaded) sends the stored choice of a returning visitor, or a new choice, as an
//    `update`. Tags wait up to `wait_for_update` ms for it. One place decides whether a stored
//    consent is valid (the widget), so the two can never disagree.
// 2. The guard (auto-blocking layer 3, docs/blocking.md): a <script> or <iframe> that a script
//    adds at runtime with the URL of a blocked service (the island's `block`: category -> host
//    patterns) is held in the blocked form of the page's own blocked elements (a script:
//    type="text/plain"; an iframe: data-sp-src, no src) before the browser can fetch it; the
//    widget releases it like any other once its category is granted. The hooks: the `src`
//    setters, setAttribute('src'), the insertion methods, and a MutationObserver as backstop.
((w, d) => {
  'use strict';
  const DENIED = 'denied';
  const layer = w.dataLayer = w.dataLayer || [];
  function gtag() {
    layer.push(arguments); // gtag.js reads Arguments objects, not arrays
  }
  gtag('consent', 'default', {
    ad_storage: DENIED, ad_user_data: DENIED, ad_personalization: DENIED, analytics_storage: DENIED,
    functionality_storage: DENIED, personalization_storage: DENIED, security_storage: 'granted',
    wait_for_update: 500
  });
  gtag('set', 'ads_data_redaction', true); // no ad click identifiers while ad_storage is denied

  let block;
  try {
    block = JSON.parse(d.getElementById('sp-consent-config').textContent).block;
  } catch (e) { /* no island: nothing to guard */ }
  if (!block) return;
  // Patterns: "host[:port]" (exact), ".suffix[:port]" (the host or any below it), either with a
  // "/path" prefix; category "necessary" marks what is never held (breaks-if-blocked, or a site
  // rule's exception inside a blocked suffix). Looked up as the plugin does: a path pattern
  // first, then the most specific host.
  const hosts = {};
  const paths = {};
  for (const cat in block) {
    for (const p of block[cat].split(' ')) {
      const i = p.indexOf('/');
      if (i < 0) hosts[p] = cat;
      else (paths[p.slice(0, i)] = paths[p.slice(0, i)] || []).push([p.slice(i), cat]);
    }
  }
  for (const k in paths) paths[k].sort((a, b) => b[0].length - a[0].length);

  const E = w.Element.prototype;
  const N = w.Node.prototype;
  const setAttr = E.setAttribute;
  const attr = (el, name, value) => setAttr.call(el, name, value);
  const SEL = 'script[src],iframe[src]';

  /** [category, host] of an absolute http(s) URL of a blocked service, else undefined. */
  function blocked(url) {
    if (!/^\s*(https?:)?\/\//i.test(url)) return; // relative: the site's own
    const u = new URL(url, d.baseURI);
    const host = u.hostname.replace(/^\[|\]$/g, '');
    const port = u.port ? ':' + u.port : '';
    const labels = host.split('.');
    const keys = [host + port, host];
    labels.forEach((x, i) => {
      const base = '.' + labels.slice(i).join('.');
      keys.push(base + port, base);
    });
    let cat;
    for (const k of keys) {
      for (const [prefix, c] of paths[k] || []) if (!cat && u.pathname.startsWith(prefix)) cat = c;
    }
    for (const k of keys) cat = cat || hosts[k];
    const sp = w.SecurePrivacy; // the widget, once it started: what the visitor granted
    const now = sp && sp.getConsent();
    if (cat && cat !== 'necessary' && !(now && now.categories[cat])) return [cat, host];
  }

  /** Hold `el` (a script or an iframe about to get `url`): true when it is (still) held. The
   *  page's own blocked forms (the plugin's, or tagged by hand) are left to the widget. */
  function hold(el, url) {
    const tag = el.tagName;
    const b = (tag === 'SCRIPT' || tag === 'IFRAME') && url && (el.spHeld || !el.hasAttribute('data-sp-category')) &&
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
    // Released in place (widget.js): the page keeps its element and its listeners, and a script
    // the browser would never have run (added by innerHTML) still does not run.
    return el.spHeld = 1;
  }

  /** Check what is being inserted (an element or a fragment, and what it holds): true when
   *  something in it is held. */
  function scan(node) {
    let held;
    if (node && (node.nodeType === 1 || node.nodeType === 11)) {
      const all = [...node.querySelectorAll(SEL + ',[data-sp-src]')];
      if (node.nodeType === 1) all.push(node);
      for (const el of all) {
        if (el.matches(SEL)) hold(el, el.getAttribute('src'));
        held = held || el.spHeld;
      }
    }
    return held;
  }
  // Tell the widget (it releases what is granted, puts placeholders before held frames).
  const tell = () => d.dispatchEvent(new w.Event('sp:held'));

  // The src setters and setAttribute: the category is checked before the URL is set. A held
  // script keeps its src (type="text/plain" is never fetched), a held iframe gets data-sp-src.
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
  // The insertion methods: every node goes through scan() before the browser sees it.
  for (const [o, names] of [[N, ['appendChild', 'insertBefore', 'replaceChild']],
    [E, ['append', 'prepend', 'before', 'after', 'replaceWith', 'insertAdjacentElement']]]) {
    for (const m of names) {
      const f = o[m];
      o[m] = function () {
        let held;
        for (const a of arguments) held = scan(a) || held;
        const r = f.apply(this, arguments);
        if (held) tell();
        return r;
      };
    }
  }
  // The backstop: what came in another way (innerHTML of an iframe, document.write). A script
  // found while the page is still parsing is held as the plugin's blocked form (the widget
  // replaces it); later it was added by a script, and is held in place.
  new w.MutationObserver((records) => {
    let held;
    for (const r of records) {
      for (const n of r.addedNodes) {
        for (const el of n.nodeType === 1 ? [n, ...n.querySelectorAll(SEL)] : []) {
          if (el.matches(SEL) && !el.hasAttribute('data-sp-category') && hold(el, el.getAttribute('src'))) {
            held = 1;
            if (d.readyState === 'loading') el.spHeld = 0;
          }
        }
      }
    }
    if (held) tell();
  }).observe(d.documentElement, { childList: true, subtree: true });
})(window, document);
