// Home page: the value chart (lightweight-charts, the daily valuations rendered
// into #value-history) and the watchlist's prices (GET /api/v1/watchlist/).
(function () {
  "use strict";
  function group(text) {
    if (text == null) return "—";
    var parts = String(text).split(".");
    var sign = parts[0].charAt(0) === "-" ? "-" : "";
    var whole = parts[0].replace("-", "").replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    return sign + whole + (parts.length > 1 ? "." + parts[1] : "");
  }
  function chart() {
    var box = document.getElementById("value-chart");
    var source = document.getElementById("value-history");
    if (!box || !source || !window.LightweightCharts) return;
    var points = JSON.parse(source.textContent || "[]").map(function (p) {
      return { time: p.time, value: Number(p.value) };  // display only: never money
    });
    var style = getComputedStyle(document.documentElement);
    var text = style.getPropertyValue("--text").trim() || "#17202a";
    var grid = style.getPropertyValue("--border").trim() || "#dde3ea";
    var accent = style.getPropertyValue("--accent").trim() || "#2563d9";
    var chart = LightweightCharts.createChart(box, {
      autoSize: true,
      layout: { background: { color: "transparent" }, textColor: text, attributionLogo: false },
      grid: { vertLines: { color: grid }, horzLines: { color: grid } },
      rightPriceScale: { borderColor: grid }, timeScale: { borderColor: grid },
      handleScroll: false, handleScale: false,
    });
    var series = chart.addSeries
      ? chart.addSeries(LightweightCharts.AreaSeries, { lineColor: accent, topColor: accent + "55", bottomColor: accent + "05" })
      : chart.addAreaSeries({ lineColor: accent, topColor: accent + "55", bottomColor: accent + "05" });
    series.setData(points);
    chart.timeScale().fitContent();
  }
  function watchlist() {
    var table = document.getElementById("watchlist");
    if (!table || !table.getAttribute("data-symbols")) return;
    fetch("/api/v1/watchlist/", { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : { results: [] }; })
      .then(function (body) {
        body.results.forEach(function (row) {
          var tr = table.querySelector('tr[data-symbol="' + row.symbol + '"]');
          if (!tr) return;
          tr.querySelector("[data-last]").textContent = group(row.last_price);
          var change = tr.querySelector("[data-change]");
          if (row.change_24h_pct == null) { change.textContent = "—"; return; }
          var negative = row.change_24h_pct.charAt(0) === "-";
          change.textContent = (negative ? "" : "+") + row.change_24h_pct + "%";
          change.className = "num " + (negative ? "down" : "up");
        });
      })
      .catch(function () {});
  }
  function start() { chart(); watchlist(); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
