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
