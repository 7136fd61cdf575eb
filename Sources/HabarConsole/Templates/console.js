// Habar console: live progress on the dashboard. Only an enhancement: without this script
// every page works, and the dashboard reloads itself every 10 seconds instead.
(function () {
  "use strict";
  var board = document.querySelector("[data-live='progress']");
  if (!board || !window.EventSource) { return; }
  var refresh = document.querySelector("meta[http-equiv='refresh']");
  if (refresh) { refresh.parentNode.removeChild(refresh); }
  var source = new EventSource("/console/events");
  source.addEventListener("progress", function (event) {
    var advisories = JSON.parse(event.data);
    var known = {};
    advisories.forEach(function (advisory) {
      known[advisory.id] = true;
      var card = document.getElementById("advisory-" + advisory.id);
      if (!card) { window.location.reload(); return; }  // a new advisory: take the server's page
      advisory.channels.forEach(function (channel) {
        var row = card.querySelector("tr[data-channel='" + CSS.escape(channel.channel) + "']");
        if (!row) { window.location.reload(); return; }
        ["queued", "sent", "delivered", "failed"].forEach(function (name) {
          var cell = row.querySelector("td." + name);
          if (cell) { cell.textContent = String(channel[name]); }
        });
        var bar = row.querySelector("progress");
        if (bar) { bar.max = channel.total; bar.value = channel.done; bar.textContent = channel.percent + "%"; }
        var percent = row.querySelector(".percent");
        if (percent) { percent.textContent = channel.percent + "%"; }
      });
    });
    document.body.setAttribute("data-live-updated", String(Date.now()));
  });
})();
// Compose: the preview (audience size, texts, SMS encoding and parts) follows the typing.
(function () {
  "use strict";
  var form = document.querySelector("form[data-compose]");
  var preview = document.getElementById("preview");
  if (!form || !preview || !window.fetch || !window.URLSearchParams) { return; }
  var timer = null, sequence = 0;
  function refreshPreview() {
    var mine = ++sequence;
    var body = new URLSearchParams(new FormData(form));
    fetch(form.getAttribute("data-preview"), { method: "POST", body: body, credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (html === null || mine !== sequence) { return; }
        preview.innerHTML = html;  // rendered and escaped by the server's template
        document.body.setAttribute("data-preview-updated", String(mine));
      })
      .catch(function () { /* the Preview button still works */ });
  }
  form.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(refreshPreview, 250); });
  form.addEventListener("change", function (event) {
    // A new kind or template asks for other fields: the server draws the form again.
    if (event.target.hasAttribute("data-refresh")) {
      var action = document.createElement("input");
      action.type = "hidden"; action.name = "action"; action.value = "refresh";
      form.appendChild(action);
      form.submit();
      return;
    }
    clearTimeout(timer); timer = setTimeout(refreshPreview, 100);
  });
})();
