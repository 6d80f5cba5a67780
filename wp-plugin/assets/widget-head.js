/*! Secure Privacy | Google Consent Mode v2 defaults */
// Printed inline first in <head>, before any tag: every consent type is denied until the widget
// (deferred, at DOMContentLoaded) sends the stored choice of a returning visitor, or a new choice,
// as an `update`. Tags wait up to `wait_for_update` ms for it. One place decides whether a stored
// consent is valid (the widget), so the two can never disagree.
((w) => {
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
})(window);
