// Markets list: refresh last price, 24h change and status every few seconds from
// GET /api/v1/markets (public). The server-rendered table is the fallback.
(function () {
  "use strict";
  var table = document.querySelector("[data-markets]");
  var status = document.querySelector("[data-markets-status]");
  if (!table) return;

  function group(text) {
    if (text == null || text === "") return "—";
    var parts = String(text).split(".");
    parts[0] = parts[0].replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    return parts.join(".");
  }

  function update(markets) {
    markets.forEach(function (m) {
      var row = table.querySelector("tr[data-symbol='" + m.symbol + "']");
      if (!row) return;
      var last = row.querySelector("[data-field=last_price]");
      var previous = last.getAttribute("data-raw");
      last.textContent = group(m.last_price);
      last.setAttribute("data-raw", m.last_price || "");
      if (previous && m.last_price && previous !== m.last_price) {
        last.classList.remove("flash-up", "flash-down");
        void last.offsetWidth;  // restart the animation
        last.classList.add(Number(m.last_price) > Number(previous) ? "flash-up" : "flash-down");
      }
      var change = row.querySelector("[data-field=change_percent_24h]");
      var pct = m.change_percent_24h;
      if (pct == null || pct === "") {
        change.textContent = "—"; change.className = "num";
      } else {
        var zero = !/[1-9]/.test(pct), down = String(pct).charAt(0) === "-";
        change.textContent = (down || zero ? "" : "+") + pct + "%";
        change.className = "num " + (zero ? "" : down ? "down" : "up");
      }
      var badge = row.querySelector("[data-field=status]");
      badge.textContent = m.status;
      badge.className = "badge " + (m.status === "trading" ? "ok" : "warn");
    });
  }

  // the page's zone (body data-time-zone), labelled: "14:05:09 IST"
  function clock() {
    var zone = document.body.getAttribute("data-time-zone") || undefined;
    try {
      return new Date().toLocaleTimeString([], { timeZone: zone, timeZoneName: "short" });
    } catch (e) {
      return new Date().toLocaleTimeString([], { timeZoneName: "short" });
    }
  }

  function refresh() {
    fetch("/api/v1/markets", { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(function (data) {
        update(data.results || []);
        if (status) status.textContent = "Updated " + clock() + ".";
      })
      .catch(function () { if (status) status.textContent = "Live prices unavailable; retrying."; })
      .then(function () { setTimeout(refresh, document.hidden ? 15000 : 5000); });
  }
  refresh();
})();
