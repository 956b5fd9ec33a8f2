// Vigil console: progressive enhancement only; every page works without it.
(function () {
  "use strict";
  // Live preview of the alerts a silence would match (as Alertmanager's silence editor).
  var box = document.querySelector("textarea[data-preview]");
  if (box) {
    var timer = null;
    var refresh = function () {
      var url = box.getAttribute("data-preview") + "?matchers=" + encodeURIComponent(box.value);
      fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } })
        .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
        .then(function (html) {
          var doc = new DOMParser().parseFromString(html, "text/html");
          var fresh = doc.getElementById("preview");
          var old = document.getElementById("preview");
          if (fresh && old) { old.replaceWith(document.adoptNode(fresh)); }
        })
        .catch(function () { /* keep the last preview; the Preview button still works */ });
    };
    box.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(refresh, 250); });
  }
  // Confirm before approving or expiring.
  document.querySelectorAll("form[data-confirm]").forEach(function (f) {
    f.addEventListener("submit", function (e) {
      if (!window.confirm(f.getAttribute("data-confirm"))) { e.preventDefault(); }
    });
  });
})();
