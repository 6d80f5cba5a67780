/* Secure Privacy admin screens: settings tabs, confirmations, the language picker.
   Progressive: every screen works without it. */
(function () {
  'use strict';

  // Settings tabs: show one panel at a time, remember it in the URL hash.
  var tabs = document.querySelectorAll('[data-sp-tab]');
  var panels = document.querySelectorAll('[data-sp-panel]');
  function show(id) {
    var found = false;
    Array.prototype.forEach.call(panels, function (p) { if (p.id === id) found = true; });
    if (!found && panels.length) id = panels[0].id;
    Array.prototype.forEach.call(panels, function (p) { p.hidden = p.id !== id; });
    Array.prototype.forEach.call(tabs, function (t) {
      var active = t.getAttribute('data-sp-tab') === id;
      t.classList.toggle('nav-tab-active', active);
      if (active) t.setAttribute('aria-current', 'page'); else t.removeAttribute('aria-current');
    });
    // options.php sends us back to the referer: keep the tab across a save.
    var referer = document.querySelector('input[name="_wp_http_referer"]');
    if (referer) referer.value = referer.value.split('#')[0] + '#' + id;
  }
  if (tabs.length) {
    Array.prototype.forEach.call(tabs, function (t) {
      t.addEventListener('click', function (e) {
        e.preventDefault();
        var id = t.getAttribute('data-sp-tab');
        show(id);
        if (history.replaceState) history.replaceState(null, '', '#' + id);
      });
    });
    show(location.hash.slice(1));
    window.addEventListener('hashchange', function () { show(location.hash.slice(1)); });
    // An invalid field in a hidden panel: reveal it so the browser can point at it.
    document.addEventListener('invalid', function (e) {
      var panel = e.target.closest && e.target.closest('[data-sp-panel]');
      if (panel && panel.hidden) show(panel.id);
    }, true);
  }

  // Destructive forms ask first.
  Array.prototype.forEach.call(document.querySelectorAll('form[data-sp-confirm]'), function (form) {
    form.addEventListener('submit', function (e) {
      if (!window.confirm(form.getAttribute('data-sp-confirm'))) e.preventDefault();
    });
  });

  // "Edit texts for another language".
  var picker = document.querySelector('[data-sp-add-locale]');
  if (picker) {
    picker.addEventListener('change', function () {
      if (!picker.value) return;
      var url = new URL(picker.getAttribute('data-sp-add-locale'), location.href);
      url.searchParams.set('sp_locale', picker.value);
      url.hash = 'secure_privacy_texts';
      location.href = url.toString();
    });
  }

  // Site scan: follow a running scan through admin-ajax.php (the sidecar's admin token stays on
  // the server); once it is done or failed, load the page again to show the report.
  var scan = document.querySelector('[data-sp-scan-progress]');
  if (scan && window.fetch) {
    var text = scan.querySelector('[data-sp-scan-text]');
    var bar = scan.querySelector('progress');
    var poll = function () {
      window.fetch(scan.getAttribute('data-sp-scan-progress'), { credentials: 'same-origin', headers: { Accept: 'application/json' } })
        .then(function (r) { return r.json(); })
        .then(function (answer) {
          var data = (answer && answer.data) || {};
          if (!answer || !answer.success) {
            if (data.message) text.textContent = data.message;
            window.setTimeout(poll, 10000);
            return;
          }
          if (data.status === 'done' || data.status === 'failed') {
            text.textContent = data.text;
            window.location.reload();
            return;
          }
          text.textContent = data.text;
          if (bar) { bar.max = Math.max(1, data.total || 0); bar.value = data.done || 0; }
          window.setTimeout(poll, 2000);
        })
        .catch(function () { window.setTimeout(poll, 10000); });
    };
    window.setTimeout(poll, 2000);
  }
})();
