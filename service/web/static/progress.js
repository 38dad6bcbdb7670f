// Follows a running re-rank: polls its progress as JSON and reloads the page when it ends.
(function () {
  "use strict";
  var box = document.querySelector("[data-progress-url]");
  if (!box) return;
  var url = box.getAttribute("data-progress-url");
  var bar = box.querySelector("progress");
  var text = box.querySelector("[data-progress-text]");

  function show(run) {
    var p = run.progress || {};
    if (p.total) {
      bar.max = p.total;
      bar.value = p.done || 0;
      var eta = p.eta_seconds ? ", about " + Math.round(p.eta_seconds) + " s left" : "";
      text.textContent = p.stage + ": " + p.done + " of " + p.total + eta;
    } else {
      text.textContent = run.state === "queued" ? "Waiting to start…" : "Starting…";
    }
  }

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(function (run) {
        if (run.state === "succeeded" || run.state === "failed") { window.location.reload(); return; }
        show(run);
        window.setTimeout(poll, 1000);
      })
      .catch(function () { window.setTimeout(poll, 3000); });
  }
  window.setTimeout(poll, 500);
})();
