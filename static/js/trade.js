// The trade screen: book, tape, chart, ticker from /ws/market/<SYMBOL>/; my orders,
// fills and balances from /ws/user/ (session cookie); orders through the REST API
// with the CSRF header. Streams reconnect with backoff and resync without a reload
// (contract: apply a delta only if seq == last + 1; on a gap ask for a snapshot
// and drop deltas until it comes).
(function () {
  "use strict";
  var D = window.TradeDecimal;
  var root = document.querySelector("[data-trade-screen]");
  var cfgNode = document.getElementById("trade-config");
  if (!root || !cfgNode || !D) return;
  var cfg = JSON.parse(cfgNode.textContent);
  var SYMBOL = cfg.symbol;
  var QD = cfg.quoteDecimals, BD = cfg.baseDecimals;
  var BOOK_ROWS = 14, TAPE_ROWS = 60, FILL_ROWS = 50;
  // Display precision: the steps' significant decimals (values are exact multiples).
  function stepDecimals(step) { return ((step.split(".")[1] || "").replace(/0+$/, "")).length; }
  var QTY_DP = stepDecimals(cfg.lotSize), PRICE_DP = Math.max(stepDecimals(cfg.tickSize), Math.min(2, QD));
  function qty(text) {
    var u = D.parse(text, BD);
    return u === null ? String(text) : D.group(D.format(u / D.pow10(BD - QTY_DP), QTY_DP));
  }
  function px(text) {
    var u = D.parse(text, QD);
    return u === null ? String(text) : D.group(D.format(u / D.pow10(QD - PRICE_DP), PRICE_DP));
  }

  var state = {
    seq: null,            // last applied public sequence
    awaitingSnapshot: true,
    bids: new Map(),      // price string -> quantity string
    asks: new Map(),
    trades: [],           // newest first
    ticker: {},
    interval: "1m",
    side: "buy",
    orders: new Map(),    // id -> order (open ones)
    fills: [],            // newest first
    fillIds: new Set(),
    balances: {},         // asset -> {available, held, total}
    lastEventId: null,
    lastPrice: null
  };

  // --- small helpers -------------------------------------------------------------
  function $(sel, el) { return (el || root).querySelector(sel); }
  function $all(sel, el) { return Array.prototype.slice.call((el || root).querySelectorAll(sel)); }
  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text != null) node.textContent = text;
    return node;
  }
  function pad(n) { return n < 10 ? "0" + n : "" + n; }
  function clock(value) {
    var d = typeof value === "number" ? new Date(value * 1000) : new Date(value);
    if (isNaN(d)) return "";
    return pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds());
  }
  function dayClock(value) {
    var d = new Date(value);
    if (isNaN(d)) return "";
    var today = new Date().toDateString() === d.toDateString();
    return (today ? "" : (d.getMonth() + 1) + "/" + d.getDate() + " ") + clock(value);
  }
  function css(name) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  }
  function num(text) { return text == null || text === "" ? NaN : Number(text); } // display only

  function wsUrl(path) {
    return (location.protocol === "https:" ? "wss://" : "ws://") + location.host + path;
  }

  function api(method, path, body) {
    var headers = { "Accept": "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (method !== "GET") headers["X-CSRFToken"] = cfg.csrfToken;
    return fetch(cfg.api + path, {
      method: method,
      headers: headers,
      credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body)
    }).then(function (response) {
      return response.text().then(function (text) {
        var data = null;
        try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
        return { ok: response.ok, status: response.status, data: data };
      });
    }, function () { return { ok: false, status: 0, data: null }; });
  }

  // --- a WebSocket that reconnects with exponential backoff and a watchdog ------
  function Stream(path, handlers) {
    var socket = null, attempt = 0, timer = null, lastMessage = 0, stopped = false;
    function connect() {
      timer = null;
      handlers.status("connecting");
      var target = typeof path === "function" ? path() : path;
      try { socket = new WebSocket(wsUrl(target)); } catch (e) { return retry(); }
      socket.onopen = function () {
        attempt = 0;
        lastMessage = Date.now();
        handlers.status("live");
        if (handlers.open) handlers.open();
      };
      socket.onmessage = function (event) {
        lastMessage = Date.now();
        var msg;
        try { msg = JSON.parse(event.data); } catch (e) { return; }
        handlers.message(msg);
      };
      socket.onclose = function (event) {
        socket = null;
        if (event.code === 4401 || event.code === 4404) {
          stopped = true;
          handlers.status(event.code === 4401 ? "denied" : "unknown");
          return;
        }
        retry();
      };
      socket.onerror = function () { /* onclose follows */ };
    }
    function retry() {
      if (stopped || timer) return;
      handlers.status("reconnecting");
      var ceiling = Math.min(30000, 500 * Math.pow(2, attempt++));
      timer = setTimeout(connect, ceiling / 2 + Math.random() * ceiling / 2);
    }
    // The server pings every ~15 s: silence for 45 s means a dead connection.
    setInterval(function () {
      if (socket && socket.readyState === 1 && Date.now() - lastMessage > 45000) socket.close();
    }, 5000);
    window.addEventListener("online", function () { if (!socket && timer) { clearTimeout(timer); connect(); } });
    connect();
    return {
      send: function (obj) {
        if (socket && socket.readyState === 1) socket.send(JSON.stringify(obj));
      }
    };
  }

  function setConn(node, status) {
    if (!node) return;
    node.setAttribute(node.hasAttribute("data-user-conn") ? "data-user-conn" : "data-conn", status);
    var label = node.querySelector("[data-conn-label]");
    var text = { connecting: "Connecting…", live: "Live", reconnecting: "Reconnecting…",
                 resyncing: "Resyncing…", denied: "Signed out", unknown: "Unknown market" }[status] || status;
    if (label) label.textContent = text;
    node.title = (node.hasAttribute("data-user-conn") ? "Your stream: " : "Market stream: ") + text;
  }

  // --- rendering (batched per animation frame) -----------------------------------
  var dirty = {};
  var frame = null;
  function invalidate(part) {
    dirty[part] = true;
    if (!frame) frame = requestAnimationFrame(render);
  }
  function render() {
    frame = null;
    var parts = dirty; dirty = {};
    if (parts.book) renderBook();
    if (parts.tape) renderTape();
    if (parts.ticker) renderTicker();
    if (parts.orders) renderOrders();
    if (parts.fills) renderFills();
    if (parts.balances) renderBalances();
    if (parts.estimate) renderEstimate();
  }

  function sortedLevels(map, descending) {
    var rows = Array.from(map.entries());
    rows.sort(function (a, b) { return descending ? D.cmp(b[0], a[0]) : D.cmp(a[0], b[0]); });
    return rows;
  }

  function myPrices(side) {
    var set = new Set();
    state.orders.forEach(function (o) {
      if (o.side === side && o.price) set.add(D.format(D.parse(o.price, QD), QD));
    });
    return set;
  }

  function renderBookSide(container, levels, side, maxTotal) {
    var mine = myPrices(side);
    var frag = document.createDocumentFragment();
    levels.forEach(function (level) {
      var row = el("div", "ts-level " + side);
      row.setAttribute("data-price", level[0]);
      row.style.setProperty("--depth", Math.min(100, (level[2] / maxTotal) * 100).toFixed(1) + "%");
      row.appendChild(el("span", "p", px(level[0])));
      row.appendChild(el("span", "q", qty(level[1])));
      row.appendChild(el("span", "t", qty(level[3])));
      if (mine.has(level[0])) row.classList.add("mine");
      row.title = "Click to use this price";
      frag.appendChild(row);
    });
    container.replaceChildren(frag);
  }

  function withTotals(rows) {
    var total = 0n;
    return rows.map(function (r) {
      total += D.parse(r[1], BD) || 0n;
      return [r[0], r[1], Number(total) / Math.pow(10, BD), D.format(total, BD)];
    });
  }

  function renderBook() {
    var asks = withTotals(sortedLevels(state.asks, false).slice(0, BOOK_ROWS));
    var bids = withTotals(sortedLevels(state.bids, true).slice(0, BOOK_ROWS));
    var maxTotal = Math.max(asks.length ? asks[asks.length - 1][2] : 0, bids.length ? bids[bids.length - 1][2] : 0, 1e-12);
    renderBookSide($("[data-book=sell]"), asks.slice().reverse(), "sell", maxTotal);
    renderBookSide($("[data-book=buy]"), bids, "buy", maxTotal);
    var last = $("[data-book-last]");
    last.textContent = state.lastPrice ? px(state.lastPrice) : "—";
    last.className = "mono " + (state.trades[0] ? (state.trades[0].taker_side === "buy" ? "up" : "down") : "");
    var spread = $("[data-book-spread]");
    if (asks.length && bids.length) {
      var a = D.parse(asks[0][0], QD), b = D.parse(bids[0][0], QD);
      spread.textContent = "spread " + px(D.format(a - b, QD));
    } else {
      spread.textContent = asks.length || bids.length ? "" : "empty book";
    }
    $("[data-book-seq]").textContent = state.seq == null ? "" : "seq " + state.seq;
  }

  function renderTape() {
    var frag = document.createDocumentFragment();
    state.trades.slice(0, TAPE_ROWS).forEach(function (t) {
      var row = el("div", "ts-trade " + (t.taker_side === "buy" ? "buy" : "sell"));
      if (t.fresh) { row.classList.add("flash"); t.fresh = false; }
      row.setAttribute("data-seq", t.seq);
      row.appendChild(el("span", "p", px(t.price)));
      row.appendChild(el("span", "q", qty(t.quantity)));
      row.appendChild(el("span", "t", clock(t.time)));
      frag.appendChild(row);
    });
    if (!state.trades.length) frag.appendChild(el("p", "help ts-pad", "No trades yet."));
    $("[data-tape]").replaceChildren(frag);
  }

  function renderTicker() {
    var t = state.ticker;
    var last = t.last || state.lastPrice;
    $("[data-ticker=last]").textContent = last ? px(last) : "—";
    var change = $("[data-ticker=change]");
    if (t.change_percent != null && t.change_percent !== "") {
      var up = !String(t.change_percent).startsWith("-");
      change.textContent = (up && !D.isZero(t.change_percent) ? "+" : "") + t.change_percent + "%" +
        (t.change != null ? "  " + (up && !D.isZero(t.change) ? "+" : "") + D.group(t.change) : "");
      change.className = "mono " + (D.isZero(t.change_percent) ? "" : up ? "up" : "down");
    } else {
      change.textContent = "—";
    }
    $("[data-ticker=high]").textContent = t.high ? px(t.high) : "—";
    $("[data-ticker=low]").textContent = t.low ? px(t.low) : "—";
    $("[data-ticker=volume]").textContent = t.volume ? qty(t.volume) : "—";
    $("[data-ticker=quote_volume]").textContent = t.quote_volume ? D.group(t.quote_volume) : "—";
    $("[data-ticker=last]").className = "mono ts-last " +
      (state.trades[0] ? (state.trades[0].taker_side === "buy" ? "up" : "down") : "");
    if (last) document.title = px(last) + " " + cfg.base + "/" + cfg.quote + " · Exchange";
  }

  // --- market stream --------------------------------------------------------------
  function applySnapshot(msg) {
    state.bids = new Map((msg.bids || []).map(function (l) { return [l[0], l[1]]; }));
    state.asks = new Map((msg.asks || []).map(function (l) { return [l[0], l[1]]; }));
    state.seq = msg.seq;
    state.awaitingSnapshot = false;
    if (Array.isArray(msg.trades)) {
      state.trades = msg.trades.slice(0, TAPE_ROWS);
      if (state.trades[0]) state.lastPrice = state.trades[0].price;
    }
    if (msg.ticker) {
      state.ticker = msg.ticker;
      if (msg.ticker.last) state.lastPrice = msg.ticker.last;
    }
    invalidate("book"); invalidate("tape"); invalidate("ticker"); invalidate("estimate");
  }

  function applyLevel(msg) {
    var book = msg.side === "buy" ? state.bids : state.asks;
    if (D.isZero(msg.quantity)) book.delete(msg.price); else book.set(msg.price, msg.quantity);
    invalidate("book"); invalidate("estimate");
  }

  function applyTrade(msg) {
    msg.fresh = true;
    state.trades.unshift(msg);
    if (state.trades.length > TAPE_ROWS) state.trades.length = TAPE_ROWS;
    state.lastPrice = msg.price;
    invalidate("tape"); invalidate("book"); invalidate("ticker");
  }

  var market = Stream("/ws/market/" + encodeURIComponent(SYMBOL) + "/", {
    status: function (s) { setConn($("[data-conn]"), s); if (s !== "live") state.awaitingSnapshot = true; },
    open: function () {
      // The server sends a snapshot on connect; candles are reloaded to heal gaps.
      state.awaitingSnapshot = true;
      loadCandles();
    },
    message: function handle(msg) {
      switch (msg.type) {
        case "snapshot":
          applySnapshot(msg);
          setConn($("[data-conn]"), "live");
          break;
        case "batch":
          // One matching batch (or several merged): apply its items in order, as
          // if they had arrived one by one.
          (msg.messages || []).forEach(handle);
          break;
        case "level":
        case "trade":
          if (state.awaitingSnapshot || state.seq == null) return;   // dropped until the snapshot
          if (msg.seq <= state.seq) return;                           // old news
          if (msg.seq !== state.seq + 1) {                            // a gap: resync
            state.awaitingSnapshot = true;
            setConn($("[data-conn]"), "resyncing");
            market.send({ op: "snapshot" });
            return;
          }
          state.seq = msg.seq;
          if (msg.type === "level") applyLevel(msg); else applyTrade(msg);
          break;
        case "ticker":
          state.ticker = msg;
          if (msg.last) state.lastPrice = msg.last;
          invalidate("ticker");
          break;
        case "candle":
          if (msg.interval === state.interval && msg.candle) chartUpdate(msg.candle);
          break;
        case "ping":
        case "pong":
          break;
        case "error":
          if (window.console) console.warn("market stream:", msg.code, msg.message);
          break;
      }
    }
  });

  // --- chart (TradingView lightweight-charts, from npm) ----------------------------
  var chart = null, candleSeries = null, volumeSeries = null, chartBars = 0;
  function chartColors() {
    return {
      text: css("--muted") || "#888", border: css("--border") || "#ddd",
      up: css("--buy") || "#0f9d58", down: css("--sell") || "#d93025"
    };
  }
  function alpha(color, a) {
    var m = /^#([0-9a-f]{6})$/i.exec(color);
    if (!m) return color;
    var n = parseInt(m[1], 16);
    return "rgba(" + (n >> 16) + "," + ((n >> 8) & 255) + "," + (n & 255) + "," + a + ")";
  }
  function setupChart() {
    var LW = window.LightweightCharts;
    var box = $("[data-chart]");
    if (!LW || !box) return;
    var c = chartColors();
    chart = LW.createChart(box, {
      autoSize: true,
      layout: { background: { type: "solid", color: "transparent" }, textColor: c.text,
                fontFamily: getComputedStyle(document.body).fontFamily, attributionLogo: false },
      grid: { vertLines: { color: alpha(c.border, 0.5) }, horzLines: { color: alpha(c.border, 0.5) } },
      rightPriceScale: { borderColor: c.border },
      timeScale: { borderColor: c.border, timeVisible: true, secondsVisible: false,
                   rightOffset: 6, barSpacing: 10, minBarSpacing: 3 },
      crosshair: { mode: 0 }
    });
    var minMove = num(cfg.tickSize) || 0.01;
    candleSeries = chart.addSeries(LW.CandlestickSeries, {
      upColor: c.up, downColor: c.down, wickUpColor: c.up, wickDownColor: c.down, borderVisible: false,
      priceFormat: { type: "price", precision: Math.max(0, (cfg.tickSize.split(".")[1] || "").length), minMove: minMove }
    });
    candleSeries.priceScale().applyOptions({ scaleMargins: { top: 0.08, bottom: 0.28 } });
    volumeSeries = chart.addSeries(LW.HistogramSeries, {
      priceScaleId: "volume", priceFormat: { type: "volume" }, lastValueVisible: false, priceLineVisible: false
    });
    chart.priceScale("volume").applyOptions({ scaleMargins: { top: 0.78, bottom: 0 } });
    // Follow the light/dark switch.
    new MutationObserver(function () {
      var k = chartColors();
      chart.applyOptions({ layout: { textColor: k.text },
        grid: { vertLines: { color: alpha(k.border, 0.5) }, horzLines: { color: alpha(k.border, 0.5) } },
        rightPriceScale: { borderColor: k.border }, timeScale: { borderColor: k.border } });
      candleSeries.applyOptions({ upColor: k.up, downColor: k.down, wickUpColor: k.up, wickDownColor: k.down });
      loadCandles();
    }).observe(document.documentElement, { attributes: true, attributeFilter: ["data-theme"] });
  }
  function bar(c) {
    return { time: c.time, open: num(c.open), high: num(c.high), low: num(c.low), close: num(c.close) };
  }
  function volBar(c) {
    var k = chartColors();
    return { time: c.time, value: num(c.volume), color: alpha(num(c.close) >= num(c.open) ? k.up : k.down, 0.45) };
  }
  function showChartEmpty() {
    var empty = $("[data-chart-empty]");
    if (empty) empty.hidden = chartBars > 0;
  }
  var candleRequest = 0;
  function loadCandles() {
    if (!candleSeries) return;
    var mine = ++candleRequest, interval = state.interval;
    api("GET", "/markets/" + encodeURIComponent(SYMBOL) + "/candles?interval=" + interval + "&limit=500")
      .then(function (r) {
        if (mine !== candleRequest || !r.ok || !r.data) return;
        var rows = (r.data.results || []).slice().sort(function (a, b) { return a.time - b.time; });
        candleSeries.setData(rows.map(bar));
        volumeSeries.setData(rows.map(volBar));
        chartBars = rows.length;
        root.setAttribute("data-chart-bars", String(chartBars));
        if (rows.length) root.setAttribute("data-chart-last", String(rows[rows.length - 1].close));
        showChartEmpty();
      });
  }
  function chartUpdate(candle) {
    if (!candleSeries) return;
    try {
      candleSeries.update(bar(candle));
      volumeSeries.update(volBar(candle));
      chartBars = Math.max(chartBars, 1);
      root.setAttribute("data-chart-bars", String(chartBars));
      root.setAttribute("data-chart-last", String(candle.close));
      showChartEmpty();
    } catch (e) {
      loadCandles();  // an out-of-order bar: take the server's list again
    }
  }
  $all("[data-interval]").forEach(function (button) {
    button.addEventListener("click", function () {
      state.interval = button.getAttribute("data-interval");
      $all("[data-interval]").forEach(function (b) { b.classList.toggle("active", b === button); });
      loadCandles();
    });
  });

  // --- user side: orders, fills, balances -------------------------------------------
  function renderOrders() {
    var body = $("[data-orders]");
    if (!body) return;
    var rows = Array.from(state.orders.values()).sort(function (a, b) { return b.id - a.id; });
    var frag = document.createDocumentFragment();
    rows.forEach(function (o) {
      var tr = el("tr");
      tr.setAttribute("data-order-id", o.id);
      tr.appendChild(el("td", "mono", dayClock(o.created_at)));
      tr.appendChild(el("td", o.side === "buy" ? "up" : "down", o.side));
      tr.appendChild(el("td", null, o.type.replace("_", " ") + (o.post_only ? " · post" : "") +
        (o.time_in_force && o.time_in_force !== "gtc" ? " · " + o.time_in_force.toUpperCase() : "")));
      tr.appendChild(el("td", "num", o.price ? px(o.price) : o.stop_price ? "stop " + px(o.stop_price) : "market"));
      tr.appendChild(el("td", "num", o.quantity ? qty(o.quantity) : (o.quote_quantity ? o.quote_quantity + " " + cfg.quote : "—")));
      tr.appendChild(el("td", "num", qty(o.filled_quantity)));
      tr.appendChild(el("td", null, o.cancelling ? "cancelling…" : o.status.replace("_", " ")));
      var td = el("td", "num");
      var cancel = el("button", "link ts-cancel", "Cancel");
      cancel.type = "button";
      cancel.disabled = !!o.cancelling;
      cancel.addEventListener("click", function () { cancelOrder(o.id); });
      td.appendChild(cancel);
      tr.appendChild(td);
      frag.appendChild(tr);
    });
    if (!rows.length) {
      var empty = el("tr", "ts-empty");
      var td0 = el("td", null, "No open orders.");
      td0.colSpan = 8;
      empty.appendChild(td0);
      frag.appendChild(empty);
    }
    body.replaceChildren(frag);
    var count = $("[data-count=orders]");
    if (count) count.textContent = String(rows.length);
    invalidate("book");
  }

  function renderFills() {
    var body = $("[data-fills]");
    if (!body) return;
    var frag = document.createDocumentFragment();
    state.fills.slice(0, FILL_ROWS).forEach(function (f) {
      var tr = el("tr");
      tr.setAttribute("data-fill-id", f.id);
      tr.appendChild(el("td", "mono", dayClock(f.created_at)));
      tr.appendChild(el("td", f.side === "buy" ? "up" : "down", f.side));
      tr.appendChild(el("td", "num", px(f.price)));
      tr.appendChild(el("td", "num", qty(f.quantity)));
      tr.appendChild(el("td", "num", f.fee + " " + (f.fee_asset || "")));
      tr.appendChild(el("td", null, f.liquidity || ""));
      frag.appendChild(tr);
    });
    if (!state.fills.length) {
      var empty = el("tr", "ts-empty");
      var td = el("td", null, "No fills yet.");
      td.colSpan = 6;
      empty.appendChild(td);
      frag.appendChild(empty);
    }
    body.replaceChildren(frag);
  }

  function renderBalances() {
    [cfg.base, cfg.quote].forEach(function (asset) {
      var row = $("[data-balances] tr[data-asset='" + asset + "']");
      var b = state.balances[asset];
      if (!row || !b) return;
      var cells = row.querySelectorAll("td");
      cells[1].textContent = D.group(b.available);
      cells[2].textContent = D.group(b.held);
      cells[3].textContent = D.group(b.total);
    });
    invalidate("estimate");
  }

  function upsertOrder(o) {
    if (!o || o.symbol !== SYMBOL) return;
    if (["pending", "open", "partially_filled"].indexOf(o.status) >= 0) {
      var previous = state.orders.get(o.id);
      if (previous && previous.cancelling) o.cancelling = true;
      state.orders.set(o.id, o);
    } else {
      state.orders.delete(o.id);
    }
    invalidate("orders");
  }
  function addFill(f) {
    if (!f || f.symbol !== SYMBOL || state.fillIds.has(f.id)) return;
    state.fillIds.add(f.id);
    state.fills.push(f);
    state.fills.sort(function (a, b) { return b.id - a.id; });
    if (state.fills.length > FILL_ROWS) state.fills.length = FILL_ROWS;
    invalidate("fills");
  }
  function setBalance(b) {
    if (!b || !b.asset) return;
    state.balances[b.asset] = { available: b.available, held: b.held, total: b.total };
    invalidate("balances");
  }

  function loadOrders() {
    return api("GET", "/orders?symbol=" + encodeURIComponent(SYMBOL) + "&open=true&limit=100").then(function (r) {
      if (!r.ok || !r.data) return;
      state.orders = new Map();
      (r.data.results || []).forEach(upsertOrder);
      invalidate("orders");
    });
  }
  function loadFills() {
    return api("GET", "/fills?symbol=" + encodeURIComponent(SYMBOL) + "&limit=" + FILL_ROWS).then(function (r) {
      if (!r.ok || !r.data) return;
      state.fills = []; state.fillIds = new Set();
      (r.data.results || []).forEach(addFill);
      invalidate("fills");
    });
  }
  function loadBalances() {
    return api("GET", "/wallet/balances").then(function (r) {
      if (!r.ok || !Array.isArray(r.data)) return;
      r.data.forEach(function (b) { if (b.asset === cfg.base || b.asset === cfg.quote) setBalance(b); });
    });
  }
  function reloadMine() { return Promise.all([loadOrders(), loadFills(), loadBalances()]); }

  function applyUserEvent(e) {
    if (e.event_id != null) {
      if (state.lastEventId != null && e.event_id <= state.lastEventId) return;  // already have it
      state.lastEventId = e.event_id;
    }
    if (e.type === "order") upsertOrder(e.order);
    else if (e.type === "fill") addFill(e.fill);
    else if (e.type === "balance") setBalance(e);
  }

  function cancelOrder(id) {
    var o = state.orders.get(id);
    if (o) { o.cancelling = true; invalidate("orders"); }
    api("DELETE", "/orders/" + id).then(function (r) {
      if (r.ok && r.data) { upsertOrder(r.data); return; }
      if (o) { o.cancelling = false; invalidate("orders"); }
      showFormError(r);
      loadOrders();
    });
  }

  // --- order form ------------------------------------------------------------------
  var form = $("[data-order-form]");

  function field(name) { return form.elements[name]; }
  function bestPrice(side) {
    var levels = side === "buy" ? sortedLevels(state.asks, false) : sortedLevels(state.bids, true);
    return levels.length ? levels[0][0] : null;
  }
  function renderEstimate() {
    if (!form) return;
    var side = state.side, type = field("type").value;
    var isMarket = type === "market" || type === "stop_market";
    var priceText = isMarket ? (type === "market" ? bestPrice(side) : field("stop_price").value) : field("price").value;
    var price = D.parse(priceText, QD), qty = D.parse(field("quantity").value, BD);
    var postOnly = field("post_only").checked;
    var bps = BigInt(postOnly ? cfg.makerFeeBps : cfg.takerFeeBps);
    var b = state.balances[side === "buy" ? cfg.quote : cfg.base];
    $("[data-available]").textContent = b ? D.group(b.available) + " " + (side === "buy" ? cfg.quote : cfg.base) : "—";
    $("[data-fee-rate]").textContent = "(" + (postOnly ? "maker " : "up to ") + bps + " bps)";
    $("[data-cost-label]").textContent = (side === "buy" ? "Cost" : "You receive") + (isMarket ? " (est.)" : "");
    if (price === null || qty === null || qty === 0n || price === 0n) {
      $("[data-cost]").textContent = "—"; $("[data-fee]").textContent = "—";
      return;
    }
    var notional = D.mulDiv(price, qty, D.pow10(BD), side === "buy");
    if (side === "buy" && cfg.feePolicy === "quote") {
      // the quote fee policy: the buyer pays the fee in quote, on top
      var feeOnTop = D.mulDiv(notional, bps, 10000n, true);
      $("[data-cost]").textContent = D.group(D.format(notional + feeOnTop, QD)) + " " + cfg.quote;
      $("[data-fee]").textContent = D.group(D.format(feeOnTop, QD)) + " " + cfg.quote;
    } else if (side === "buy") {
      var feeBase = D.mulDiv(qty, bps, 10000n, true);
      $("[data-cost]").textContent = D.group(D.format(notional, QD)) + " " + cfg.quote;
      $("[data-fee]").textContent = D.format(feeBase, BD) + " " + cfg.base;
    } else {
      var feeQuote = D.mulDiv(notional, bps, 10000n, true);
      $("[data-cost]").textContent = D.group(D.format(notional - feeQuote, QD)) + " " + cfg.quote;
      $("[data-fee]").textContent = D.group(D.format(feeQuote, QD)) + " " + cfg.quote;
    }
  }

  function syncFormFields() {
    var type = field("type").value;
    var isMarket = type === "market" || type === "stop_market";
    $("[data-for=price]", form).hidden = isMarket;
    $("[data-for=stop_price]", form).hidden = type.indexOf("stop") !== 0;
    var post = field("post_only");
    var postAllowed = type === "limit" && field("time_in_force").value === "gtc";
    post.disabled = !postAllowed;
    if (!postAllowed) post.checked = false;
    var submit = $("[data-submit]", form);
    submit.className = (state.side === "buy" ? "buy" : "sell") + " ts-submit";
    submit.textContent = (state.side === "buy" ? "Buy " : "Sell ") + cfg.base;
    invalidate("estimate");
  }

  function clearErrors() {
    $all("[data-error]", form).forEach(function (p) { p.textContent = ""; });
    $all("[aria-invalid]", form).forEach(function (i) { i.removeAttribute("aria-invalid"); });
    var box = $("[data-form-error]", form);
    box.hidden = true; box.textContent = ""; box.className = "errors";
  }

  function showFormError(r) {
    if (!form) return;
    var box = $("[data-form-error]", form);
    var err = r.data && r.data.error;
    var message = err ? err.message : r.status === 0 ? "Network error: the order may not have reached us; check your open orders." : "Request failed (" + r.status + ").";
    if (r.status === 401 || r.status === 403 && err && err.code === "not_authenticated") message = "Your session ended: log in again.";
    box.textContent = message;
    box.className = "errors";
    box.hidden = false;
    if (err && err.details) {
      Object.keys(err.details).forEach(function (name) {
        var p = $("[data-error='" + name + "']", form);
        var messages = err.details[name];
        if (p) p.textContent = Array.isArray(messages) ? messages.join(" ") : String(messages);
        if (form.elements[name]) form.elements[name].setAttribute("aria-invalid", "true");
      });
    }
  }

  function showNotice(text) {
    var box = $("[data-form-error]", form);
    box.textContent = text;
    box.className = "ts-notice";
    box.hidden = false;
  }

  if (form) {
    $all("[data-side]", form).forEach(function (button) {
      button.addEventListener("click", function () {
        state.side = button.getAttribute("data-side");
        $all("[data-side]", form).forEach(function (b) { b.classList.toggle("active", b === button); });
        syncFormFields();
      });
    });
    ["type", "time_in_force"].forEach(function (name) { field(name).addEventListener("change", syncFormFields); });
    form.addEventListener("input", function (event) {
      var name = event.target.name;
      var p = name && $("[data-error='" + name + "']", form);
      if (p) p.textContent = "";
      if (event.target.removeAttribute) event.target.removeAttribute("aria-invalid");
      invalidate("estimate");
    });
    form.addEventListener("change", function () { invalidate("estimate"); });
    root.addEventListener("click", function (event) {
      var level = event.target.closest(".ts-level");
      if (!level || !field("price")) return;
      field("price").value = level.getAttribute("data-price");
      invalidate("estimate");
    });
    var inFlight = false;
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (inFlight) return;
      clearErrors();
      var type = field("type").value;
      var body = {
        symbol: SYMBOL, side: state.side, type: type,
        time_in_force: field("time_in_force").value,
        post_only: field("post_only").checked,
        quantity: field("quantity").value.trim(),
        client_order_id: "web-" + Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 8)
      };
      if (type === "limit" || type === "stop_limit") body.price = field("price").value.trim();
      if (type.indexOf("stop") === 0) body.stop_price = field("stop_price").value.trim();
      var submit = $("[data-submit]", form);
      inFlight = true; submit.disabled = true;
      api("POST", "/orders", body).then(function (r) {
        inFlight = false; submit.disabled = false;
        if (!r.ok) { showFormError(r); return; }
        var o = r.data;
        upsertOrder(o);
        showNotice("Order " + o.id + " " + o.status.replace("_", " ") + (o.filled_quantity && !D.isZero(o.filled_quantity) ? " · filled " + o.filled_quantity : "") + ".");
        field("quantity").value = "";
        invalidate("estimate");
        loadBalances();
        if (o.filled_quantity && !D.isZero(o.filled_quantity)) loadFills();
      });
    });
    syncFormFields();
  }

  // --- tabs --------------------------------------------------------------------------
  $all("[data-tab]").forEach(function (tab) {
    tab.addEventListener("click", function () {
      var name = tab.getAttribute("data-tab");
      $all("[data-tab]").forEach(function (t) { t.classList.toggle("active", t === tab); });
      $all("[data-panel]").forEach(function (p) { p.hidden = p.getAttribute("data-panel") !== name; });
    });
  });

  // --- start ----------------------------------------------------------------------
  function start() {
    setupChart();
    loadCandles();
    // First paint from REST while the socket connects (the snapshot replaces it).
    api("GET", "/markets/" + encodeURIComponent(SYMBOL) + "/ticker").then(function (r) {
      if (r.ok && r.data && state.awaitingSnapshot) { state.ticker = r.data; if (r.data.last) state.lastPrice = r.data.last; invalidate("ticker"); }
    });
    if (cfg.authenticated) {
      // After a reconnect the server replays what we missed (?since_id=N) before
      // going live; the first time (nothing seen yet) the REST reads fill in.
      var reloadOnOpen = false;
      Stream(function () {
        return "/ws/user/" + (state.lastEventId != null ? "?since_id=" + state.lastEventId : "");
      }, {
        status: function (s) { setConn($("[data-user-conn]"), s); },
        open: function () {
          if (reloadOnOpen && state.lastEventId == null) reloadMine();
          reloadOnOpen = true;
        },
        message: function (msg) {
          if (msg.type === "order" || msg.type === "fill" || msg.type === "balance") applyUserEvent(msg);
        }
      });
      reloadMine();
    }
  }
  if (window.LightweightCharts) start();
  else window.addEventListener("load", start);
})();
