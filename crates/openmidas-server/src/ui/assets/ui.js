// OpenMidas dashboard: the request log's live refresh. Every 2 s, an element with
// data-live="<url>" gets that URL's HTML (rows rendered by the server) while the
// "Refresh every 2 s" box (#live) is checked. Same origin only; nothing else runs here.
(function () {
  "use strict";
  var target = document.querySelector("[data-live]");
  if (!target) return;
  var toggle = document.getElementById("live");
  var busy = false;
  function refresh() {
    if (busy || (toggle && !toggle.checked) || document.hidden) return;
    busy = true;
    fetch(target.getAttribute("data-live"), { credentials: "same-origin", cache: "no-store" })
      .then(function (r) {
        if (r.redirected || !r.ok) throw new Error("refresh failed: " + r.status);
        return r.text();
      })
      .then(function (html) {
        if (target.innerHTML !== html) target.innerHTML = html;
        target.removeAttribute("data-stale");
      })
      .catch(function () { target.setAttribute("data-stale", "true"); })
      .finally(function () { busy = false; });
  }
  setInterval(refresh, 2000);
})();
