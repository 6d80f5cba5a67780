/*! Secure Privacy consent widget. No dependency, no external request. */
(function (win, doc) {
  'use strict';

  // ---- Constants -----------------------------------------------------------
  var COOKIE = 'sp_consent';
  var PENDING_KEY = 'sp_consent_pending';
  var MAX_PENDING = 20;
  var DAY_MS = 864e5;
  var STANDARD = ['necessary', 'preferences', 'statistics', 'marketing'];
  var METHODS = { 'accept-all': 'accept_all', 'reject-all': 'reject_all', save: 'custom', withdraw: 'withdraw' };
  var TEXTS = {
    title: 'We value your privacy',
    body: 'We use cookies to run this site, remember your settings, measure traffic and show relevant ads. ' +
      'Choose what you allow; you can change or withdraw your consent at any time.',
    acceptAll: 'Accept all',
    rejectAll: 'Reject all',
    preferences: 'Preferences',
    save: 'Save choices',
    withdraw: 'Withdraw consent',
    open: 'Privacy settings',
    close: 'Close',
    privacyLink: 'Privacy policy',
    gpcNotice: 'Your browser sends a privacy signal, so marketing stays off.'
  };
  var CATEGORIES = [
    { key: 'necessary', label: 'Necessary', description: 'Needed for the site to work. Always on.', required: true },
    { key: 'preferences', label: 'Preferences', description: 'Remember your settings, such as language.' },
    { key: 'statistics', label: 'Statistics', description: 'Help us understand how the site is used.' },
    { key: 'marketing', label: 'Marketing', description: 'Show relevant ads and measure them.' }
  ];
  var ICON = '<svg viewBox="0 0 24 24" width="24" height="24" aria-hidden="true" focusable="false">' +
    '<path fill="currentColor" d="M12 2 4 5v6c0 5.2 3.4 9.7 8 11 4.6-1.3 8-5.8 8-11V5l-8-3Zm-1.2 14.2-3.5-3.5 ' +
    '1.4-1.4 2.1 2.1 4.9-4.9 1.4 1.4-6.3 6.3Z"/></svg>';

  // ---- Pure core: no DOM, no storage ----------------------------------------

  /** Merge a raw config object with the defaults; never throws on odd input. */
  function normalizeConfig(raw) {
    var c = Object.assign({}, raw);
    c.texts = Object.assign({}, TEXTS, raw && raw.texts);
    c.categories = Array.isArray(c.categories) && c.categories.length ? c.categories : CATEGORIES;
    c.lifetimeDays = Number(c.lifetimeDays) > 0 ? Number(c.lifetimeDays) : 365;
    c.policyVersion = String(c.policyVersion == null ? '' : c.policyVersion);
    c.bannerVersion = String(c.bannerVersion == null ? '' : c.bannerVersion);
    c.honorGpc = c.honorGpc !== false;
    c.honorDnt = c.honorDnt === true;
    return c;
  }

  /** Category keys of the config, always including the four standard ones. */
  function categoryKeys(config) {
    var keys = STANDARD.slice();
    config.categories.forEach(function (c) { if (keys.indexOf(c.key) < 0) keys.push(c.key); });
    return keys;
  }

  function isRequired(key, config) {
    return key === 'necessary' || config.categories.some(function (c) { return c.key === key && c.required; });
  }

  /** A random RFC 4122 version-4 UUID from a Web Crypto object. */
  function uuid4(crypto) {
    var b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 15) | 64;
    b[8] = (b[8] & 63) | 128;
    var h = Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join('');
    return h.slice(0, 8) + '-' + h.slice(8, 12) + '-' + h.slice(12, 16) + '-' + h.slice(16, 20) + '-' + h.slice(20);
  }

  /** The consent state stored in a Cookie header string, or null if absent or malformed. */
  function parseCookie(cookieHeader) {
    var m = (';' + (cookieHeader || '')).match(/;\s*sp_consent=([^;]*)/);
    var v;
    if (!m) return null;
    try { v = JSON.parse(decodeURIComponent(m[1])); } catch (e) { return null; }
    if (!v || !/^[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$/i.test(v.subject_id) ||
        !v.categories || typeof v.categories !== 'object') return null;
    var cats = {};
    Object.keys(v.categories).forEach(function (k) { cats[k] = v.categories[k] === true; });
    return {
      subject_id: v.subject_id, categories: cats, policy_version: String(v.policy_version),
      banner_version: String(v.banner_version), given_at: String(v.given_at)
    };
  }

  /** A Set-Cookie style string for document.cookie. */
  function serializeCookie(state, lifetimeDays, secure) {
    return COOKIE + '=' + encodeURIComponent(JSON.stringify(state)) + '; Max-Age=' +
      Math.round(lifetimeDays * 86400) + '; Path=/; SameSite=Lax' + (secure ? '; Secure' : '');
  }

  /** True when the visitor must be asked: no state, another policy version, or expired. */
  function needsConsent(state, config, now) {
    return !state || state.policy_version !== config.policyVersion ||
      !(now - Date.parse(state.given_at) < config.lifetimeDays * DAY_MS);
  }

  /** 'gpc' or 'dnt' when an honoured browser signal forbids marketing, else ''. */
  function forcedBy(signals, config) {
    if (config.honorGpc && signals.gpc) return 'gpc';
    if (config.honorDnt && signals.dnt) return 'dnt';
    return '';
  }

  /**
   * The method and categories for a visitor action ('accept-all', 'reject-all',
   * 'save' with choice = {key: bool}, or 'withdraw').
   */
  function decisionFor(action, choice, signals, config) {
    var method = METHODS[action];
    var forced = forcedBy(signals, config);
    var categories = {};
    categoryKeys(config).forEach(function (k) {
      categories[k] = isRequired(k, config) || action === 'accept-all' || (action === 'save' && !!(choice && choice[k]));
    });
    if (forced && categories.marketing) {
      categories.marketing = false;
      if (action === 'accept-all') method = forced;
    }
    return { method: method, categories: categories };
  }

  /** Ledger action: withdraw, grant when no valid consent existed, update otherwise. */
  function eventAction(action, hadConsent) {
    return action === 'withdraw' ? 'withdraw' : hadConsent ? 'update' : 'grant';
  }

  function sameCategories(a, b) {
    return Object.keys(Object.assign({}, a, b)).every(function (k) { return !!a[k] === !!b[k]; });
  }

  /** Google Consent Mode v2 fields for a categories map. */
  function consentModeFor(categories) {
    function g(k) { return categories[k] ? 'granted' : 'denied'; }
    return {
      analytics_storage: g('statistics'), ad_storage: g('marketing'), ad_user_data: g('marketing'),
      ad_personalization: g('marketing'), functionality_storage: g('preferences'),
      personalization_storage: g('preferences')
    };
  }

  var core = {
    normalizeConfig: normalizeConfig, categoryKeys: categoryKeys, uuid4: uuid4, parseCookie: parseCookie,
    serializeCookie: serializeCookie, needsConsent: needsConsent, decisionFor: decisionFor,
    eventAction: eventAction, sameCategories: sameCategories, consentModeFor: consentModeFor,
    TEXTS: TEXTS, CATEGORIES: CATEGORIES
  };

  // ---- Browser side: storage, network, DOM ----------------------------------

  function start() {
    var config;
    try {
      config = normalizeConfig(JSON.parse(doc.getElementById('sp-consent-config').textContent));
    } catch (e) {
      return; // no or broken config: render nothing, break nothing
    }
    var t = config.texts;
    var nav = win.navigator;
    var signals = { gpc: nav.globalPrivacyControl === true, dnt: nav.doNotTrack === '1' };
    var forced = forcedBy(signals, config);
    var stored = parseCookie(doc.cookie);
    var state = stored && !needsConsent(stored, config, Date.now()) ? stored : null;
    var inFlight = {};
    var root, dialog, fab, reopened;

    // -- storage and network --
    function readPending() {
      try {
        var list = JSON.parse(win.localStorage.getItem(PENDING_KEY));
        return Array.isArray(list) ? list.filter(function (p) { return p && p.event_id; }) : [];
      } catch (e) { return []; }
    }
    function writePending(list) {
      try {
        if (list.length) win.localStorage.setItem(PENDING_KEY, JSON.stringify(list.slice(-MAX_PENDING)));
        else win.localStorage.removeItem(PENDING_KEY);
      } catch (e) { /* storage blocked: the event is sent once, best effort */ }
    }
    function forget(eventId) {
      writePending(readPending().filter(function (p) { return p.event_id !== eventId; }));
    }
    function send(event) {
      if (inFlight[event.event_id] || !config.restUrl || !win.fetch) return;
      inFlight[event.event_id] = true;
      var headers = { 'Content-Type': 'application/json' };
      if (config.restNonce) headers['X-WP-Nonce'] = config.restNonce;
      win.fetch(config.restUrl, {
        method: 'POST', headers: headers, body: JSON.stringify(event), credentials: 'same-origin', keepalive: true
      }).then(function (r) {
        // A 4xx other than auth/rate limits will never succeed: drop it rather than retry forever.
        if (r.ok || (r.status >= 400 && r.status < 500 && [401, 403, 408, 429].indexOf(r.status) < 0)) forget(event.event_id);
      }, function () { /* offline: stays pending for the next page load */ }).then(function () {
        delete inFlight[event.event_id];
      });
    }
    // Write ahead, then send: the event survives a failed POST or a page unload.
    function record(event) {
      if (!config.restUrl) return;
      writePending(readPending().concat([event]));
      send(event);
    }

    // -- effects of a consent state --
    function activateScripts(categories) {
      var nodes = doc.querySelectorAll('script[type="text/plain"][data-sp-category]');
      Array.prototype.forEach.call(nodes, function (old) {
        var needed = old.getAttribute('data-sp-category').split(/[\s,]+/).filter(Boolean);
        // Replacing the node (whose new type no longer matches) is what makes activation run once.
        if (!needed.every(function (k) { return categories[k]; })) return;
        var s = doc.createElement('script');
        Array.prototype.forEach.call(old.attributes, function (a) {
          if (a.name !== 'type' && a.name !== 'data-sp-type') s.setAttribute(a.name, a.value);
        });
        if (old.getAttribute('data-sp-type')) s.type = old.getAttribute('data-sp-type');
        if (!old.hasAttribute('async')) s.async = false; // keep document order between activated scripts
        s.text = old.text;
        old.parentNode.replaceChild(s, old);
      });
    }
    function applyConsent(categories) {
      activateScripts(categories);
      if (typeof win.gtag === 'function') {
        win.gtag('consent', 'update', consentModeFor(categories));
      } else if (win.dataLayer && typeof win.dataLayer.push === 'function') {
        (function () { win.dataLayer.push(arguments); })('consent', 'update', consentModeFor(categories));
      }
      if (typeof win.wp_set_consent === 'function') {
        ['preferences', 'statistics', 'marketing'].forEach(function (k) {
          win.wp_set_consent(k, categories[k] ? 'allow' : 'deny');
        });
      }
    }
    function publicState(s) {
      return s && {
        subject_id: s.subject_id, categories: Object.assign({}, s.categories), policy_version: s.policy_version,
        banner_version: s.banner_version, given_at: s.given_at
      };
    }

    // -- a decision: state, cookie, ledger, effects, events, UI --
    function decide(action, choice) {
      var before = state;
      var d = decisionFor(action, choice, signals, config);
      state = {
        subject_id: stored ? stored.subject_id : uuid4(win.crypto),
        categories: d.categories,
        policy_version: config.policyVersion,
        banner_version: config.bannerVersion,
        given_at: new Date().toISOString()
      };
      stored = state;
      doc.cookie = serializeCookie(state, config.lifetimeDays, config.cookieSecure || win.location.protocol === 'https:');
      record({
        event_id: uuid4(win.crypto), subject_id: state.subject_id, action: eventAction(action, !!before),
        method: d.method, categories: d.categories, page_url: win.location.href,
        policy_version: state.policy_version, banner_version: state.banner_version,
        language: config.language || doc.documentElement.lang || 'en', signals: signals
      });
      applyConsent(state.categories);
      var prevCats = before ? before.categories : decisionFor('reject-all', null, signals, config).categories;
      var changed = !sameCategories(prevCats, state.categories);
      emit('sp:consent');
      if (changed) emit('sp:change');
      closeDialog();
      return publicState(state);
    }
    function emit(name) {
      doc.dispatchEvent(new win.CustomEvent(name, { detail: publicState(state) }));
    }

    // -- DOM --
    function el(tag, attrs, text) {
      var n = doc.createElement(tag);
      Object.keys(attrs || {}).forEach(function (k) { n.setAttribute(k, attrs[k]); });
      if (text != null) n.textContent = text;
      return n;
    }
    function button(action, label, cls) {
      return el('button', { type: 'button', class: cls || 'sp-btn', 'data-sp-action': action }, label);
    }
    function categoryList() {
      var list = el('ul', { class: 'sp-cats' });
      config.categories.forEach(function (c) {
        var id = 'sp-consent-cat-' + c.key;
        var input = el('input', { type: 'checkbox', id: id, 'data-sp-category': c.key, 'aria-describedby': id + '-desc' });
        var locked = isRequired(c.key, config);
        input.checked = locked || !!(state && state.categories[c.key] && !(forced && c.key === 'marketing'));
        input.disabled = locked || !!(forced && c.key === 'marketing');
        var label = el('label', { for: id });
        label.append(input, el('span', null, c.label || c.key));
        var li = el('li');
        li.append(label, el('p', { id: id + '-desc', class: 'sp-desc' }, c.description || ''));
        list.append(li);
      });
      return list;
    }
    function showDialog(view) {
      if (dialog) dialog.remove();
      dialog = el('div', {
        class: 'sp-dialog', role: 'dialog', 'aria-modal': 'true', tabindex: '-1',
        'aria-labelledby': 'sp-consent-title', 'aria-describedby': 'sp-consent-body'
      });
      dialog.append(el('h2', { id: 'sp-consent-title', class: 'sp-title' }, t.title));
      var body = el('p', { id: 'sp-consent-body', class: 'sp-body' }, t.body + ' ');
      if (/^(https?:\/\/|\/)/i.test(config.privacyUrl || '')) {
        body.append(el('a', { href: config.privacyUrl }, t.privacyLink));
      }
      dialog.append(body);
      if (forced) dialog.append(el('p', { class: 'sp-notice', role: 'note' }, t.gpcNotice));
      if (view === 'prefs') dialog.append(categoryList());
      var actions = el('div', { class: 'sp-actions' });
      actions.append(button('accept-all', t.acceptAll), button('reject-all', t.rejectAll),
        view === 'prefs' ? button('save', t.save) : button('preferences', t.preferences));
      dialog.append(actions);
      if (state) {
        dialog.append(button('withdraw', t.withdraw, 'sp-link'));
        var x = button('close', '\u00d7', 'sp-close');
        x.setAttribute('aria-label', t.close);
        dialog.append(x);
      }
      dialog.view = view;
      root.append(dialog);
      fab.hidden = true;
      var target = view === 'prefs' ? dialog.querySelector('input:not([disabled])') : dialog;
      (target || dialog).focus();
    }
    function closeDialog() {
      var wasOpen = !!dialog;
      if (dialog) dialog.remove();
      dialog = null;
      fab.hidden = !state;
      if (wasOpen && state) fab.focus();
    }
    function open() {
      reopened = !!state;
      showDialog('first');
    }
    function focusables() {
      return Array.prototype.filter.call(
        dialog.querySelectorAll('a[href],button:not([disabled]),input:not([disabled])'),
        function (n) { return !n.closest('[hidden]'); });
    }
    function onClick(e) {
      var target = e.target.closest('[data-sp-action]');
      var action = target && target.getAttribute('data-sp-action');
      if (!action) return;
      if (action === 'open') open();
      else if (action === 'close') closeDialog();
      else if (action === 'preferences') showDialog('prefs');
      else if (action === 'save') {
        var choice = {};
        Array.prototype.forEach.call(dialog.querySelectorAll('input[data-sp-category]'), function (i) {
          choice[i.getAttribute('data-sp-category')] = i.checked;
        });
        decide('save', choice);
      } else if (METHODS[action]) decide(action);
    }
    function onKeydown(e) {
      if (!dialog) return;
      if (e.key === 'Escape') {
        if (dialog.view === 'prefs' && !reopened) {
          showDialog('first');
          var back = dialog.querySelector('[data-sp-action="preferences"]');
          if (back) back.focus();
        } else if (state) closeDialog();
      } else if (e.key === 'Tab') {
        var f = focusables();
        var first = f[0], last = f[f.length - 1];
        if (e.shiftKey && (doc.activeElement === first || doc.activeElement === dialog)) {
          e.preventDefault();
          last.focus();
        } else if (!e.shiftKey && doc.activeElement === last) {
          e.preventDefault();
          first.focus();
        }
      }
    }

    root = el('div', { id: 'sp-consent' });
    if (config.language) root.lang = config.language;
    fab = button('open', '', 'sp-fab');
    fab.setAttribute('aria-label', t.open);
    fab.innerHTML = ICON;
    fab.hidden = true;
    root.append(fab);
    root.addEventListener('click', onClick);
    root.addEventListener('keydown', onKeydown);
    doc.body.append(root);

    win.SecurePrivacy = {
      getConsent: function () { return publicState(state); },
      open: open,
      withdraw: function () { return decide('withdraw'); }
    };

    if (state) {
      applyConsent(state.categories);
      fab.hidden = false;
    } else {
      reopened = false;
      showDialog('first');
    }
    readPending().forEach(send); // retry what an earlier page could not deliver
  }

  if (doc && doc.getElementById) {
    var boot = function () { try { start(); } catch (e) { /* never break the host page */ } };
    if (doc.readyState === 'loading') doc.addEventListener('DOMContentLoaded', boot);
    else boot();
  } else if (typeof module === 'object' && module && module.exports) {
    module.exports = core; // Node unit tests only; the browser gets window.SecurePrivacy alone
  }
})(typeof window !== 'undefined' ? window : null, typeof document !== 'undefined' ? document : null);
