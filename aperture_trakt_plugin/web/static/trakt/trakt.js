/* The Trakt plugin's behaviour on its cards and pages, in one static file so a host
 * with a strict Content-Security-Policy (script-src 'self') runs it: no inline script
 * or event handler is left in the templates. Everything a page needs is in data-*
 * attributes the templates write:
 *
 *   #trakt-result[data-ok][data-message][data-next]  the sign-in popup's last page
 *   #trakt-profile[data-card-url][data-csrf][data-device-start-url][data-device-poll-url]
 *       [data-device-interval][data-state]          the profile card
 *       [data-live-every="seconds"]                  redraw until the first sync is in
 *   [data-trakt-connect="url"]                       opens the sign-in popup
 *   [data-trakt-device-start]                        asks for a device code
 *   [data-trakt-copy="element id"]                   copies that element's text
 *
 * A card may include this file more than once (and a redrawn card brings its <script>
 * back, which a browser does not run); it sets itself up once per page.
 */
(function () {
  'use strict';
  if (window.apertureTrakt) { window.apertureTrakt.resume(); return; }

  // The popup's result page: tell the opener (same origin only) and close, or, with no
  // opener (popup blocked, mobile), take this tab back to the profile.
  function finishSignIn() {
    var result = document.getElementById('trakt-result');
    if (!result) { return false; }
    var message = {source: 'aperture-trakt', ok: result.dataset.ok === 'yes',
                   message: result.dataset.message || ''};
    if (window.opener && !window.opener.closed) {
      try { window.opener.postMessage(message, window.location.origin); } catch (e) { /* opener left */ }
      window.close();
    } else {
      window.location.replace(result.dataset.next || '/');
    }
    return true;
  }

  var pollTimer = null;
  function card() { return document.getElementById('trakt-profile'); }
  function redraw() {
    var current = card();
    if (!current) { return Promise.resolve(); }
    return fetch(current.dataset.cardUrl, {credentials: 'same-origin'})
      .then(function (r) { return r.text(); })
      .then(function (html) { current.outerHTML = html; resume(); });
  }
  function post(url) {
    return fetch(url, {method: 'POST', credentials: 'same-origin',
                       headers: {'X-CSRFToken': card().dataset.csrf}})
      .then(function (r) { return r.json(); });
  }
  function stopPolling() { if (pollTimer) { clearTimeout(pollTimer); pollTimer = null; } }
  function poll() {
    stopPolling();
    var c = card();
    if (!c || c.dataset.state !== 'device') { return; }
    pollTimer = setTimeout(function () {
      post(card().dataset.devicePollUrl).then(function (state) {
        if (state.status === 'pending') {
          card().dataset.deviceInterval = state.interval;
          var line = document.getElementById('trakt-device-status');
          if (line && state.message) { line.textContent = state.message; }
          poll();
        } else { redraw(); }
      }, function () { poll(); });
    }, 1000 * Math.max(1, parseInt(c.dataset.deviceInterval || '5', 10)));
  }
  // Right after connecting, the card redraws itself until the first sync and watchlist
  // are in (the server stops asking for it then, or after a while).
  var liveTimer = null;
  function live() {
    if (liveTimer) { clearTimeout(liveTimer); liveTimer = null; }
    var c = card();
    if (!c || !c.dataset.liveEvery) { return; }
    liveTimer = setTimeout(function () { redraw().catch(live); },
                           1000 * Math.max(1, parseInt(c.dataset.liveEvery, 10)));
  }
  function resume() { poll(); live(); }

  function copy(button) {
    var source = document.getElementById(button.getAttribute('data-trakt-copy'));
    if (!source || !navigator.clipboard) { return; }
    navigator.clipboard.writeText(source.textContent.trim()).then(function () {
      button.textContent = 'Copied';
    });
  }

  if (finishSignIn()) { return; }

  document.addEventListener('click', function (event) {
    if (!(event.target instanceof Element)) { return; }
    var connect = event.target.closest('[data-trakt-connect]');
    if (connect) {
      var url = connect.getAttribute('data-trakt-connect');
      var popup = window.open(url, 'trakt-connect', 'popup,width=620,height=760');
      if (!popup) { window.location.assign(url); }
      return;
    }
    if (event.target.closest('[data-trakt-device-start]')) {
      post(card().dataset.deviceStartUrl).then(redraw, redraw);
      return;
    }
    var copyButton = event.target.closest('[data-trakt-copy]');
    if (copyButton) { copy(copyButton); }
  });
  window.addEventListener('message', function (event) {
    if (event.origin !== window.location.origin) { return; }
    if (!event.data || event.data.source !== 'aperture-trakt') { return; }
    redraw();
  });
  window.apertureTrakt = {resume: resume, redraw: redraw};
  resume();
})();
