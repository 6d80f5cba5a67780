/*! Secure Privacy | GPL-2.0-or-later */
// The consent widget: no dependency, no external request, no global but window.SecurePrivacy.
// Written for its size (issue 14: every visitor downloads it; bench/README.md "Widget size"):
// one template helper per kind of markup, one click handler for the widget and placeholders.
((win, doc) => {
  'use strict';

  // ---- Constants -----------------------------------------------------------
  const PENDING_KEY = 'sp_consent_pending'; // decisions not yet accepted by the REST route
  const NOTICE_KEY = 'sp_policy_notice'; // the next policy version whose notice was read
  const MAX_URL = 2048; // the REST route refuses longer page URLs
  const DAY_MS = 864e5;
  const MARKETING = 'marketing';
  // Icons: the shield of the floating button, the cross of close buttons (names come from aria-label).
  const svg = (d) => '<svg viewBox="0 0 24 24" width="24" height="24" aria-hidden="true"><path fill="none" ' +
    `stroke="currentColor" stroke-width="2" d="${d}"/></svg>`;
  const SHIELD = svg('M12 3 5 6v5c0 4.5 3 8.5 7 10 4-1.5 7-5.5 7-10V6zM9 12l2 2 4-4');
  const CROSS = svg('M6 6l12 12M18 6 6 18');
  // The stylesheet (widget.css), put here by scripts/build-widget.mjs: injected when the widget
  // starts, so the page has no render-blocking request for it. Empty in the readable source
  // (SCRIPT_DEBUG), where the plugin links widget.css instead.
  const CSS = '';
  // No built-in texts: the plugin always sends the site's complete (translated, edited) texts.
  // The texts: positions in the island's `texts` list (SECURE_PRIVACY_ISLAND_TEXT_KEYS in frontend.php).
  const T_TITLE = 0;
  const T_BODY = 1;
  const T_ACCEPT_ALL = 2;
  const T_REJECT_ALL = 3;
  const T_PREFERENCES = 4;
  const T_SAVE = 5;
  const T_WITHDRAW = 6;
  const T_OPEN = 7;
  const T_CLOSE = 8;
  const T_PRIVACY_LINK = 9;
  const T_GPC_NOTICE = 10;
  const T_DNT_NOTICE = 11;
  const T_POLICY_NOTICE = 12;
  const T_BLOCKED = 13;
  const T_LOAD = 14;
  const T_CONTENT = 15;
  const T_VISITOR_ID = 16;
  const T_COPY = 17;
  const T_COPIED = 18;

  // ---- Pure core: no DOM, no storage ----------------------------------------

  /**
   * Merge a raw config with the defaults and apply the policy schedule as of `now` (the
   * browser's clock, so a cached page stays right): from the effective date (UTC) on, the next
   * version is the one in force; during the notice period before it, `notice` is set.
   * Never throws on odd input.
   */
  function normalizeConfig(raw, now) {
    const c = Object.assign({ texts: [], categories: [{ key: 'necessary' }], policyNoticeDays: 30 }, raw);
    const next = c.nextPolicyVersion && String(c.nextPolicyVersion);
    const at = Date.parse(c.nextPolicyEffective + 'T00:00:00Z');
    // Every category of the payload, the always-granted one first (the plugin's vocabulary).
    c.categoryKeys = c.categoryKeys || c.categories.map((k) => k.key);
    c.lifetimeDays = c.lifetimeDays > 0 ? +c.lifetimeDays : 365;
    c.policyVersion = String(c.policyVersion);
    c.notice = null;
    if (next && at <= now) c.policyVersion = next;
    else if (next && at - now <= c.policyNoticeDays * DAY_MS) c.notice = { version: next, at };
    return c;
  }

  /** A random RFC 4122 version-4 UUID from a Web Crypto object. */
  const uuid4 = (crypto) => '10000000-1000-4000-8000-100000000000'.replace(/[018]/g,
    (c) => (c ^ crypto.getRandomValues(new Uint8Array(1))[0] & 15 >> c / 4).toString(16));

  /** The consent state: the cookie's fields, in the cookie's order. */
  const stateOf = (subject_id, categories, policy_version, banner_version, given_at) =>
    ({ subject_id, categories, policy_version, banner_version, given_at });

  /** The consent state stored in a Cookie header string, or null if absent or malformed. */
  function parseCookie(cookieHeader) {
    try {
      const v = JSON.parse(decodeURIComponent(cookieHeader.match(/(^|;\s*)sp_consent=([^;]*)/)[2]));
      const categories = {};
      for (const k in v.categories) categories[k] = v.categories[k] === true;
      if (/^[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$/i.test(v.subject_id) && typeof v.categories == 'object' && v.categories) {
        return stateOf(v.subject_id, categories, String(v.policy_version), String(v.banner_version), String(v.given_at));
      }
    } catch (e) { /* absent or malformed */ }
    return null;
  }

  /** A Set-Cookie style string for document.cookie. */
  const serializeCookie = (state, lifetimeDays, secure) => 'sp_consent=' + encodeURIComponent(JSON.stringify(state)) +
    '; Max-Age=' + Math.round(lifetimeDays * 86400) + '; Path=/; SameSite=Lax' + (secure ? '; Secure' : '');

  /** True when the visitor must be asked: no state, another policy version, or expired. */
  const needsConsent = (state, config, now) => !state || state.policy_version !== config.policyVersion ||
    !(now - Date.parse(state.given_at) < config.lifetimeDays * DAY_MS);

  /** 'gpc' or 'dnt' when an honoured browser signal forbids marketing, else ''. */
  const forcedBy = (signals, config) =>
    config.honorGpc !== false && signals.gpc ? 'gpc' : config.honorDnt === true && signals.dnt ? 'dnt' : '';

  /**
   * The method and categories of a decision: `action` is 'accept-all', 'reject-all',
   * 'save' (choice = {key: bool}), 'withdraw', or 'signal' (an honoured GPC/DNT signal turns
   * marketing off in the earlier categories `prev`). Categories the banner does not show are
   * never granted; an honoured signal keeps marketing off, and where that changed an
   * accept-all, the method says which signal decided.
   */
  function decisionFor(action, choice, signals, config, prev) {
    const forced = forcedBy(signals, config);
    const all = action === 'accept-all';
    const given = action === 'save' ? choice : action === 'signal' && prev;
    // accept_all, reject_all, custom, withdraw; the signal's name for a signal's decision.
    let method = action === 'signal' ? forced : action === 'save' ? 'custom' : action.replace('-', '_');
    const categories = {};
    config.categoryKeys.forEach((k, i) => {
      categories[k] = !i || config.categories.some((c) => c.key === k) && (all || !!(given && given[k]));
    });
    if (forced && categories.marketing) {
      categories.marketing = false;
      if (all) method = forced;
    }
    return { method, categories };
  }

  /** Ledger action: withdraw, grant when no valid consent existed, update otherwise. */
  const eventAction = (action, hadConsent) => action === 'withdraw' ? action : hadConsent ? 'update' : 'grant';

  /** A page URL the REST route accepts: at most 2048 characters, dropping hash, then query. */
  const trimUrl = (url) => ['#', '?'].reduce((u, c) => u.length > MAX_URL ? u.split(c)[0] : u, url).slice(0, MAX_URL);

  /** `text` with each {name} replaced by vars[name]. */
  const fill = (text, vars) => String(text).replace(/\{(\w+)\}/g, (m, k) => k in vars ? vars[k] : m);

  /** Text made safe for HTML content and double-quoted attributes. */
  const esc = (s) => String(s ?? '').replace(/[&<>"]/g, (c) => '&#' + c.charCodeAt(0) + ';');

  // ---- Browser side: storage, network, DOM ----------------------------------

  function start() {
    const now = Date.now();
    let config;
    try {
      config = JSON.parse(doc.getElementById('sp-consent-config').textContent);
      config = Array.isArray(config.texts) && normalizeConfig(config, now);
    } catch (e) { /* no or broken config */ }
    if (!config) return; // render nothing, break nothing (the widget has no built-in texts)
    const t = config.texts;
    const keys0 = config.categoryKeys;
    const nav = win.navigator;
    const signals = { gpc: nav.globalPrivacyControl === true, dnt: nav.doNotTrack === '1' };
    const forced = forcedBy(signals, config);
    const signalNotice = t[forced == 'gpc' ? T_GPC_NOTICE : T_DNT_NOTICE];
    let sending = 0; // a decision is on its way (send)
    let stored = parseCookie(doc.cookie);
    let state = needsConsent(stored, config, now) ? null : stored;
    let dialog, opener;

    const $$ = (selector) => doc.querySelectorAll(selector);
    const attr = (node, name) => node.getAttribute(name);
    const needs = (node) => attr(node, 'data-sp-category').split(/[\s,]+/).filter(Boolean);
    const granted = (keys, categories) => keys.every((k) => categories[k]);
    const storage = (fn) => { try { return fn(win.localStorage); } catch (e) { /* storage blocked */ } };
    const copy = (s) => s && JSON.parse(JSON.stringify(s)); // callers never hold the live state
    const emit = (name, detail) => doc.dispatchEvent(new win.CustomEvent(name, { detail }));
    const noticeRead = () => storage((s) => s.setItem(NOTICE_KEY, config.notice.version));

    // -- storage and network --
    function readPending() {
      const list = storage((s) => JSON.parse(s.getItem(PENDING_KEY)));
      return Array.isArray(list) ? list.filter((p) => p && p.event_id) : [];
    }
    const writePending = (list) => storage((s) => list[0]
      ? s.setItem(PENDING_KEY, JSON.stringify(list.slice(-20)))
      : s.removeItem(PENDING_KEY));
    // One decision at a time, oldest first: two quick choices (save, then withdraw) reach the
    // site in the order they were made, so the ledger's order is the visitor's. A decision that
    // cannot be delivered now holds the later ones back until the next page load.
    function send() {
      const event = readPending()[0];
      if (sending || !event || !config.restUrl) return;
      sending = 1;
      const headers = { 'Content-Type': 'application/json' };
      if (config.restNonce) headers['X-WP-Nonce'] = config.restNonce;
      win.fetch(config.restUrl, {
        // fetch sends the site's cookies by default (same origin): a signed-in user's nonce needs them.
        method: 'POST', headers, body: JSON.stringify(event), keepalive: true
      }).then((r) => {
        // Done unless it may pass later: a server error, or 401, 403, 408, 429.
        if (r.ok || r.status < 500 && ![401, 403, 408, 429].includes(r.status)) {
          writePending(readPending().filter((p) => p.event_id !== event.event_id));
          return 1;
        }
      }, () => { /* offline: stays pending for the next page load */ }).then((next) => {
        sending = 0;
        if (next) send();
      });
    }

    // -- effects of a consent state on the page --
    // Every blocked element of the page, in document order:
    // <script type="text/plain" data-sp-category> runs once granted;
    // <iframe data-sp-src data-sp-category>: loaded while granted; otherwise a placeholder of the
    // same size says which consent it needs (no layout shift), and a revoked frame is unloaded;
    // <img data-sp-src data-sp-category> (a tracking pixel) loads once granted; no placeholder;
    // <link data-sp-src data-sp-category> (a stylesheet, preload or preconnect): its href, the same.
    // `categories` is null before any choice: nothing is granted.
    function release(categories) {
      $$('[data-sp-category]').forEach((el) => {
        const keys = needs(el);
        const ok = granted(keys, categories || {});
        const src = attr(el, 'data-sp-src');
        const ph = el.spPlaceholder;
        // A <link> (a web font's stylesheet, a preconnect) loads by its href, the rest by src.
        const key = el.localName == 'link' ? 'href' : 'src';
        if (attr(el, 'type') === 'text/plain' && el.localName === 'script') {
          if (!ok) return;
          const type = attr(el, 'data-sp-type');
          if (el.spHeld) {
            // Held at runtime by the guard (widget-head.js): released in place, so the page's own
            // element (its onload) loads; setting src again is what makes the browser fetch it.
            const held = attr(el, 'src');
            el.spHeld = 0;
            if (type) el.setAttribute('type', type);
            else el.removeAttribute('type');
            el.removeAttribute('src');
            el.setAttribute('src', held);
            return;
          }
          // Replacing the node (whose new type no longer matches) is what makes activation run once.
          const s = doc.createElement('script');
          // Every attribute but the blocking type; the original type (data-sp-type) as `type`.
          for (const a of el.attributes) {
            if (a.name !== 'type') s.setAttribute(a.name === 'data-sp-type' ? 'type' : a.name, a.value);
          }
          if (!el.hasAttribute('async')) s.async = false; // keep document order between activated scripts
          s.text = el.text;
          el.replaceWith(s);
        } else if (src == null) { // a switch of the preferences: not the page's
          return;
        } else if (ok) {
          if (ph) ph.remove();
          el.spPlaceholder = null;
          el.style.display = '';
          if (attr(el, key) !== src) el[key] = src;
        } else {
          if (attr(el, key)) el[key] = 'about:blank';
          if (ph || 'alt' in el || key == 'href') return; // a pixel or a <link>: no placeholder
          const vars = {
            categories: keys.map((k) => (config.categories.find((c) => c.key === k) || { label: k }).label).join(', '),
            service: attr(el, 'data-sp-service') || t[T_CONTENT]
          };
          const size = el.offsetWidth ? ` style="width:${el.offsetWidth}px;height:${el.offsetHeight}px"` : '';
          // One click on "Load …" grants the categories it needs (a consent like any other); the
          // second button opens the choices. No "Load" where an honoured GPC/DNT signal keeps a
          // needed category (marketing) off: the click could not grant it.
          el.insertAdjacentHTML('beforebegin', `<div class="sp-blocked"${size}><p>${esc(fill(t[T_BLOCKED], vars))}</p>${
            forced && keys.includes(MARKETING) ? '' : button('load', fill(t[T_LOAD], vars))}${button('open', t[T_OPEN], 'sp-link')}</div>`);
          (el.spPlaceholder = el.previousElementSibling).onclick = (e) => onClick(e, keys);
          el.style.display = 'none';
        }
      });
    }
    // WP Consent API (when installed): an opt-in region, and the choice per WordPress category.
    function tellWordPress(categories, load) {
      if (typeof win.wp_set_consent != 'function') return;
      win.wp_consent_type = 'optin';
      if (categories) {
        for (const k of ['functional', 'preferences', 'statistics', 'statistics-anonymous', MARKETING]) {
          win.wp_set_consent(k, k == 'functional' || categories[k.split('-')[0]] ? 'allow' : 'deny');
        }
      }
      if (load) emit('wp_consent_type_defined');
    }
    // Tell the page: Google first (before an activated tag runs), then scripts and frames.
    // `categories` is null before any choice: nothing is granted, Google keeps its defaults.
    // Google Consent Mode: the <head> snippet (widget-head.js), which frontend.php always prints
    // before this widget, sent the defaults and turns this event into the `update`.
    function applyConsent(categories) {
      if (categories) emit('sp:consent-mode', categories);
      release(categories);
    }

    // -- a decision: state, cookie, ledger, effects, events, UI --
    function decide(action, choice) {
      const before = state;
      const d = decisionFor(action, choice, signals, config, before && before.categories);
      const loc = win.location;
      stored = state = stateOf(stored ? stored.subject_id : uuid4(win.crypto), d.categories, config.policyVersion,
        config.bannerVersion, new Date().toISOString());
      if (config.notice && dialog) noticeRead(); // read there
      doc.cookie = serializeCookie(state, config.lifetimeDays, config.cookieSecure || loc.protocol == 'https:');
      // Write ahead, then send: the event survives a failed POST or a page unload.
      if (config.restUrl) {
        // The state's fields but its time (the route stamps its own), and the event's.
        const { given_at, ...fields } = state;
        writePending(readPending().concat({
          event_id: uuid4(win.crypto), ...fields, action: eventAction(action, !!before), method: d.method,
          page_url: trimUrl(loc.href), language: config.language, signals
        }));
        send();
      }
      applyConsent(d.categories);
      tellWordPress(d.categories);
      emit('sp:consent', copy(state));
      const was = before ? before.categories : { [keys0[0]]: true };
      if (keys0.some((k) => !was[k] !== !d.categories[k])) emit('sp:change', copy(state));
      closeDialog();
      return copy(state);
    }

    // -- DOM: every text goes through esc() --
    // A button: with a text, or with an icon and the text as its name.
    const button = (action, label, cls = 'sp-btn', icon) => `<button type="button" class="${cls}" data-sp-action="${
      action}"${icon ? ` aria-label="${esc(label)}">${icon}` : `>${esc(label)}`}</button>`;
    const info = (text) => `<p class="sp-info">${esc(text)}</p>`;
    const privacyLink = () => /^(https?:\/\/|\/)/i.test(config.privacyUrl)
      ? ` <a href="${esc(config.privacyUrl)}">${esc(t[T_PRIVACY_LINK])}</a>` : '';
    // The effective date in the site's language, e.g. "December 9, 2026" or "9 december 2026".
    const noticeText = () => fill(t[T_POLICY_NOTICE], {
      date: new Date(config.notice.at).toLocaleDateString(config.language, { dateStyle: 'long', timeZone: 'UTC' })
    });
    function category(c) {
      const id = esc('sp-consent-cat-' + c.key);
      const locked = c.key === keys0[0];
      const off = forced && c.key === MARKETING; // an honoured signal decides: the visitor is not asked
      const on = locked || !off && state && state.categories[c.key];
      return `<li><label for="${id}">${esc(c.label || c.key)}</label><input type="checkbox" role="switch" id="${id
      }" data-sp-category="${esc(c.key)}" aria-describedby="${id}-desc"${on ? ' checked' : ''}${
        locked || off ? ' disabled' : ''}><p id="${id}-desc">${esc(off ? signalNotice : c.description)}</p></li>`;
    }
    function showDialog(view) {
      const prefs = view === 'prefs';
      const fresh = !dialog; // only a dialog that opens slides in, not a change of view
      if (fresh) opener = doc.activeElement;
      else dialog.remove();
      root.insertAdjacentHTML('afterbegin', `<div class="sp-dialog${fresh ? ' sp-in' : ''}" role="dialog" aria-modal="true" tabindex="-1" ` +
        `aria-labelledby="sp-consent-title" aria-describedby="sp-consent-body"><h2 id="sp-consent-title">${
          esc(t[T_TITLE])}</h2><p id="sp-consent-body">${esc(t[T_BODY])}${privacyLink()}</p>${
          config.notice ? info(noticeText()) : ''}${forced ? info(signalNotice) : ''}${
          prefs ? `<ul>${config.categories.map(category).join('')}</ul>` : ''}${
          // The visitor's id, to quote in a request to see or erase their records.
          prefs && state ? `<p class="sp-id">${esc(t[T_VISITOR_ID])} <code>${esc(state.subject_id)}</code> ${
            button('copy', t[T_COPY], 'sp-link')} <span role="status"></span></p>` : ''
        }<div class="sp-actions">${button('accept-all', t[T_ACCEPT_ALL])}${button('reject-all', t[T_REJECT_ALL])}${
          prefs ? button('save', t[T_SAVE]) : button('preferences', t[T_PREFERENCES])}${
          state ? button('withdraw', t[T_WITHDRAW], 'sp-link') + '</div>' + button('close', t[T_CLOSE], 'sp-x', CROSS) : '</div>'
        }</div>`);
      dialog = root.firstChild;
      dialog.view = view;
      fab.hidden = true;
      (prefs && dialog.querySelector('input:not([disabled])') || dialog).focus({ preventScroll: true });
    }
    function closeDialog() {
      if (!dialog) return;
      dialog.remove();
      dialog = null;
      fab.hidden = false;
      // Back where the visitor came from (the floating button, a placeholder), else to the button.
      (opener && opener.isConnected && opener !== doc.body && !root.contains(opener) ? opener : fab).focus();
    }
    // A returning visitor sees the choices in force, a first visitor the first layer.
    const open = () => showDialog(state ? 'prefs' : 'first');
    // The widget's and the placeholders' buttons.
    function onClick(e, keys) {
      const target = e.target.closest('[data-sp-action]');
      const action = target && attr(target, 'data-sp-action');
      const choice = {};
      if (action === 'open') open();
      else if (action === 'close') closeDialog();
      else if (action === 'preferences') showDialog('prefs');
      else if (action === 'copy') {
        // Copy the visitor id and say so. Without the clipboard API (a page not served over
        // https) the id stays on screen to be selected by hand.
        const clip = nav.clipboard;
        if (clip) clip.writeText(state.subject_id).then(() => { target.nextElementSibling.textContent = t[T_COPIED]; });
      } else if (action === 'dismiss') {
        noticeRead();
        target.parentNode.remove();
        fab.focus();
      } else if (action === 'load') {
        // A placeholder: grant what its frame needs, keep the rest as it is.
        Object.assign(choice, state && state.categories);
        for (const k of keys) choice[k] = true;
        decide('save', choice);
      } else if (action === 'save') {
        $$('#sp-consent input[data-sp-category]').forEach((i) => { choice[attr(i, 'data-sp-category')] = i.checked; });
        decide('save', choice);
      } else if (/^(accept-all|reject-all|withdraw)$/.test(action)) decide(action);
    }
    function onKeydown(e) {
      if (!dialog) return;
      const active = doc.activeElement;
      if (e.key === 'Escape') {
        if (state) closeDialog();
        else if (dialog.view === 'prefs') {
          showDialog('first');
          dialog.querySelector('[data-sp-action="preferences"]').focus();
        }
      } else if (e.key === 'Tab') {
        // Focus stays in the open dialog, also when it had wandered off (a click on the page).
        const f = dialog.querySelectorAll('a[href],button,input:not([disabled])');
        const first = f[0];
        const last = f[f.length - 1];
        if (!dialog.contains(active) || (e.shiftKey ? active === first || active === dialog : active === last)) {
          e.preventDefault();
          (e.shiftKey ? last : first).focus();
        }
      }
    }

    if (CSS) {
      const style = doc.createElement('style');
      style.id = 'sp-consent-css';
      style.textContent = CSS + (config.css || '');
      doc.head.append(style);
    }
    doc.body.insertAdjacentHTML('beforeend', `<div id="sp-consent"${
      config.position === 'bottom-left' ? ' class="sp-left"' : ''}>${button('open', t[T_OPEN], 'sp-fab', SHIELD)}</div>`);
    const root = doc.body.lastChild;
    const fab = root.lastChild;
    root.onclick = onClick;
    doc.addEventListener('keydown', onKeydown);
    // The guard (widget-head.js) held an element added at runtime: released if granted, else a
    // placeholder before a held frame.
    doc.addEventListener('sp:held', () => release(state && state.categories));

    win.SecurePrivacy = {
      getConsent: () => copy(state),
      open,
      withdraw: () => decide('withdraw')
    };

    // A signal honoured now overrides an earlier marketing grant: recorded as the signal's decision.
    if (state && forced && state.categories.marketing) decide('signal');
    else applyConsent(state && state.categories);
    send(); // retry what an earlier page could not deliver, oldest first
    tellWordPress(state && state.categories, true);
    if (!state) showDialog('first');
    else if (config.notice && storage((s) => s.getItem(NOTICE_KEY)) !== config.notice.version) {
      // The coming policy change, for visitors whose consent stands until then; dismissible.
      root.insertAdjacentHTML('afterbegin', `<div class="sp-note" role="status"><p>${esc(noticeText())}${privacyLink()}</p>${
        button('dismiss', t[T_CLOSE], 'sp-x', CROSS)}</div>`);
    }
    fab.hidden = !state;
  }

  // Node (the unit tests) has no window: the pure core is exported instead. The build defines
  // `module` as false, so the browser's file has neither this test nor the export.
  const node = typeof module == 'object' && module && module.exports && typeof document == 'undefined';
  if (node) {
    module.exports = {
      normalizeConfig, uuid4, parseCookie, serializeCookie, needsConsent, decisionFor, eventAction,
      trimUrl, fill, esc
    };
  } else {
    const boot = () => { try { start(); } catch (e) { /* never break the host page */ } };
    if (doc.readyState === 'loading') doc.addEventListener('DOMContentLoaded', boot);
    else boot();
  }
})(...(typeof module == 'object' && module && module.exports && typeof document == 'undefined' ? [] : [window, document]));
