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
  var TICK = D.parse(cfg.tickSize, QD);
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
    interval: cfg.defaultInterval || "1h",
    side: "buy",
    status: cfg.status || "trading",
    statusReason: cfg.statusReason || "",
    session: cfg.session || { phase: "continuous", next_phase: null, next_at: null, halted: false },
    indicative: null,      // during a call: {price, quantity, surplus, surplus_side}, else null
    chartView: "price",
    markets: [],           // from GET /markets
    watch: null,           // Set of watched symbols, null: no watchlist (signed out, or none)
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
  // Times: one zone, the user's own (profile setting, else <body data-time-zone>,
  // else the browser's), labelled wherever a time is shown.
  var ZONE = (function () {
    var wanted = cfg.timeZone || (document.body && document.body.getAttribute("data-time-zone")) || "";
    if (wanted) {
      try { new Intl.DateTimeFormat("en-GB", { timeZone: wanted }); return wanted; } catch (e) { /* unknown zone */ }
    }
    try { return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC"; } catch (e) { return "UTC"; }
  })();
  var fmtTime = new Intl.DateTimeFormat("en-GB", { timeZone: ZONE, hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
  var fmtHM = new Intl.DateTimeFormat("en-GB", { timeZone: ZONE, hour: "2-digit", minute: "2-digit", hour12: false });
  var fmtDay = new Intl.DateTimeFormat("en-GB", { timeZone: ZONE, day: "numeric", month: "short" });
  var fmtDate = new Intl.DateTimeFormat("en-CA", { timeZone: ZONE, year: "numeric", month: "2-digit", day: "2-digit" });
  var ZONE_ABBR = (function () {
    try {
      var part = new Intl.DateTimeFormat("en-US", { timeZone: ZONE, timeZoneName: "short" })
        .formatToParts(new Date()).filter(function (p) { return p.type === "timeZoneName"; })[0];
      return part ? part.value : ZONE;
    } catch (e) { return ZONE; }
  })();
  function toDate(value) { return typeof value === "number" ? new Date(value * 1000) : new Date(value); }
  function clock(value) {
    var d = toDate(value);
    return isNaN(d) ? "" : fmtTime.format(d);
  }
  function dayClock(value) {
    var d = toDate(value);
    if (isNaN(d)) return "";
    var today = fmtDate.format(new Date()) === fmtDate.format(d);
    return (today ? "" : fmtDay.format(d) + " ") + fmtTime.format(d);
  }
  function zoneLabels() {
    $all("[data-zone-abbr]").forEach(function (node) { node.textContent = "(" + ZONE_ABBR + ")"; });
    $all("[data-zone-label]").forEach(function (node) { node.textContent = "Times in " + ZONE + " (" + ZONE_ABBR + ")"; });
    $all("[data-zone-name]").forEach(function (node) { node.textContent = ZONE + ", " + ZONE_ABBR; });
    root.setAttribute("data-time-zone", ZONE);
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
    if (parts.book) { renderBook(); renderDepth(); }
    if (parts.tape) renderTape();
    if (parts.ticker) renderTicker();
    if (parts.orders) renderOrders();
    if (parts.fills) renderFills();
    if (parts.balances) renderBalances();
    if (parts.estimate) renderEstimate();
    if (parts.markets) renderMarkets();
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
    var seqNode = $("[data-book-seq]");
    seqNode.textContent = state.seq == null ? "" : "live";
    seqNode.title = state.seq == null ? "" : "Book update " + state.seq;
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
    if (msg.status) applyStatus(msg.status, msg.status_reason, null);
    if (msg.session) applySession(msg.session);
    applyIndicative(msg.indicative || null);
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
    invalidate("tape"); invalidate("book"); invalidate("ticker"); invalidate("estimate");
    refreshTrailing();
  }
  // A trailing stop's stop price moves after trades: with one open, the open
  // orders are read again shortly after a trade (once per burst).
  var trailingTimer = null;
  function refreshTrailing() {
    if (trailingTimer || !cfg.authenticated) return;
    var any = false;
    state.orders.forEach(function (o) { if (isTrailing(o)) any = true; });
    if (!any) return;
    trailingTimer = setTimeout(function () { trailingTimer = null; loadOrders(); }, 700);
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
        case "status":
          // A halt, resume or close, as it commits (no sequence).
          applyStatus(msg.status, msg.reason, msg.time);
          break;
        case "phase":
          // The session moved (no sequence: it replaces the last one).
          applySession(msg);
          break;
        case "indicative":
          // A call's uncross as it would be now; all null: nothing crosses.
          applyIndicative(msg.price == null ? null : msg);
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
      crosshair: { mode: 0 },
      localization: {
        timeFormatter: function (t) { var d = new Date(t * 1000); return fmtDay.format(d) + " " + fmtHM.format(d) + " " + ZONE_ABBR; }
      }
    });
    chart.timeScale().applyOptions({
      tickMarkFormatter: function (t, kind) {
        var d = new Date(t * 1000);
        return kind < 3 ? fmtDay.format(d) : fmtHM.format(d);
      }
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
      $all("[data-interval]").forEach(function (b) {
        b.classList.toggle("active", b === button);
        b.setAttribute("aria-pressed", b === button ? "true" : "false");
      });
      try { localStorage.setItem("ts-interval", state.interval); } catch (e) { /* private mode */ }
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
      tr.id = "ts-order-" + o.id;
      tr.appendChild(el("td", "mono", dayClock(o.created_at)));
      tr.appendChild(el("td", o.side === "buy" ? "up" : "down", o.side));
      var typeCell = el("td", null, o.type.replace("_", " ") + (isTrailing(o) ? " · trailing" : "") + (o.post_only ? " · post" : "") +
        (o.time_in_force && o.time_in_force !== "gtc" ? " · " + o.time_in_force.toUpperCase() : ""));
      if (o.oco_partner_id != null) {
        // The two legs of an OCO point at each other; the mark jumps to the partner.
        tr.classList.add("ts-oco-leg");
        tr.setAttribute("data-oco-partner", o.oco_partner_id);
        var mark = el("a", "ts-oco", "OCO ↔ " + o.oco_partner_id);
        mark.href = "#ts-order-" + o.oco_partner_id;
        mark.appendChild(el("span", "visually-hidden", " (one cancels the other: linked with order " + o.oco_partner_id + ")"));
        mark.title = "One cancels the other with order " + o.oco_partner_id + ": when one fills or triggers, the other is cancelled";
        typeCell.appendChild(document.createTextNode(" "));
        typeCell.appendChild(mark);
      }
      tr.appendChild(typeCell);
      tr.appendChild(el("td", "num", o.price ? px(o.price) : "market"));
      // A trailing stop's price moves with the market: the current one, then its trail.
      var stopCell = el("td", "num", o.stop_price ? px(o.stop_price) : "—");
      stopCell.setAttribute("data-stop", o.stop_price || "");
      if (isTrailing(o)) stopCell.appendChild(el("span", "ts-trail help", trailWords(o)));
      tr.appendChild(stopCell);
      tr.appendChild(el("td", "num", o.quantity ? qty(o.quantity) : (o.quote_quantity ? o.quote_quantity + " " + cfg.quote : "—")));
      tr.appendChild(el("td", "num", qty(o.filled_quantity)));
      var expires = el("td", "mono", o.expire_at ? dayClock(o.expire_at) : "—");
      if (o.expire_at) expires.title = "Good till " + dayClock(o.expire_at) + " " + ZONE_ABBR;
      tr.appendChild(expires);
      tr.appendChild(el("td", null, o.cancelling ? "cancelling…" : o.status.replace("_", " ")));
      var td = el("td", "num");
      var cancel = el("button", "link ts-cancel", "Cancel");
      cancel.type = "button";
      cancel.disabled = !!o.cancelling;
      cancel.addEventListener("click", function () { cancelOrder(o.id); });
      cancel.setAttribute("aria-label", "Cancel order " + o.id);
      td.appendChild(cancel);
      tr.appendChild(td);
      labelCells(tr, ["Time (" + ZONE_ABBR + ")", "Side", "Type", "Price", "Stop", "Quantity", "Filled", "Expires (" + ZONE_ABBR + ")", "Status", ""]);
      frag.appendChild(tr);
    });
    if (!rows.length) {
      var empty = el("tr", "ts-empty");
      var td0 = el("td", null, "No open orders.");
      td0.colSpan = 10;
      empty.appendChild(td0);
      frag.appendChild(empty);
    }
    body.replaceChildren(frag);
    var count = $("[data-count=orders]");
    if (count) count.textContent = String(rows.length);
    invalidate("book");
  }

  function isTrailing(o) { return o.trailing_amount != null || o.trailing_bps != null; }
  function trailWords(o) {
    return o.trailing_amount != null ? "trails " + px(o.trailing_amount) + " " + cfg.quote
      : "trails " + D.format(BigInt(o.trailing_bps), 2).replace(/\.?0+$/, "") + "%";
  }

  function labelCells(tr, labels) {
    Array.prototype.forEach.call(tr.children, function (td, i) { if (labels[i]) td.setAttribute("data-label", labels[i]); });
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
      labelCells(tr, ["Time (" + ZONE_ABBR + ")", "Side", "Price", "Quantity", "Fee", "Role"]);
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

  function orderWords(o) {
    return (o.side === "buy" ? "Buy " : "Sell ") + (o.quantity ? qty(o.quantity) + " " + cfg.base : o.quote_quantity + " " + cfg.quote + " of " + cfg.base) +
      (o.price ? " at " + px(o.price) + " " + cfg.quote : o.type.indexOf("market") >= 0 ? " at market" : "");
  }
  function upsertOrder(o) {
    if (!o || o.symbol !== SYMBOL) return;
    var previous = state.orders.get(o.id);
    if (["pending", "open", "partially_filled"].indexOf(o.status) >= 0) {
      if (previous && previous.cancelling) o.cancelling = true;
      state.orders.set(o.id, o);
    } else {
      state.orders.delete(o.id);
      if (previous && !previous.closedNotice) {
        previous.closedNotice = true;
        var filled = o.filled_quantity && !D.isZero(o.filled_quantity) ? qty(o.filled_quantity) + " " + cfg.base : "";
        if (o.status === "cancelled" && o.reason === "oco") {
          toast("Order " + o.id + " cancelled with its OCO partner " + (o.oco_partner_id != null ? o.oco_partner_id + " " : "") +
            "(" + orderWords(o) + ")" + (filled ? "; " + filled + " had filled." : "; nothing had filled."), "cancelled");
        } else if (o.status === "cancelled") {
          toast("Order " + o.id + " cancelled (" + orderWords(o) + ")" + (filled ? "; " + filled + " had filled." : "; nothing had filled."), "cancelled");
        } else if (o.status === "expired" && o.expire_at) {
          toast("Order " + o.id + " expired: it was good till " + dayClock(o.expire_at) + " " + ZONE_ABBR + " (" + orderWords(o) + ")" + (filled ? "; " + filled + " filled." : "."), "expired");
        } else if (o.status === "expired" && o.reason === "day") {
          toast("Order " + o.id + " expired: it was a day order and the market closed for the day (" + orderWords(o) + ")" + (filled ? "; " + filled + " filled." : "."), "expired");
        } else if (o.status === "filled") {
          toast("Order " + o.id + " filled: " + orderWords(o) + ".", "filled");
        } else if (o.status === "expired" || o.status === "rejected") {
          toast("Order " + o.id + " ended without filling in full (" + orderWords(o) + ")" + (filled ? "; " + filled + " filled." : "."), o.status);
        }
      }
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
      if (r.ok && r.data) {
        if (["pending", "open", "partially_filled"].indexOf(r.data.status) >= 0) {
          toast("Cancelling order " + id + "…", "cancelling");
        }
        upsertOrder(r.data);
        // the partner of an OCO leg goes too: its event normally says so; a
        // late read makes sure the row does not linger if the stream lagged
        if (r.data.oco_partner_id != null) setTimeout(loadOrders, 2000);
        return;
      }
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
  // Where a trailing stop would start now (display: the engine sets it on
  // acceptance from the last trade), as a price string, or null.
  function trailStartPrice() {
    var mode = field("stop_mode").value;
    if (mode === "price" || !state.lastPrice) return null;
    var amount = null, bps = null;
    if (mode === "amount") amount = D.parse(field("trailing_amount").value, QD);
    else bps = D.bpsFromPercent(field("trailing_percent").value);
    if ((mode === "amount" ? amount : bps) === null || (amount === 0n || bps === 0n)) return null;
    var stop = D.trailStop(state.side, D.parse(state.lastPrice, QD), TICK, amount, bps);
    return stop === null ? null : D.format(stop, QD);
  }
  function renderTrailNote() {
    var note = $("[data-trail-note]", form);
    var type = field("type").value, mode = field("stop_mode").value;
    var on = (type.indexOf("stop") === 0 || type === "oco") && mode !== "price";
    note.hidden = !on;
    if (!on) return;
    var start = trailStartPrice();
    var sell = state.side === "sell";
    note.textContent = (start ? "The stop starts at " + px(start) + " " + cfg.quote + " (last " + px(state.lastPrice) + ") and " :
      state.lastPrice ? "The stop is set from the last price and " : "Needs a last trade price; the stop ") +
      (sell ? "rises with the price, never down; it triggers when the price falls to it." :
              "falls with the price, never up; it triggers when the price rises to it.") +
      (mode === "percent" ? " The percentage is sent as basis points (1% = 100 bps)." : "");
  }
  function renderEstimate() {
    if (!form) return;
    renderTrailNote();
    var side = state.side, type = field("type").value;
    var isMarket = type === "market" || type === "stop_market";
    var stopText = field("stop_mode").value === "price" ? field("stop_price").value : trailStartPrice();
    var priceText = isMarket ? (type === "market" ? bestPrice(side) : stopText) : field("price").value;
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

  // Which inputs a type shows: OCO is a limit price, a stop (a price or a
  // trail) and an optional stop-limit price, for one quantity, GTC or GTD.
  function syncFormFields() {
    var type = field("type").value;
    var isMarket = type === "market" || type === "stop_market";
    var oco = type === "oco", hasStop = oco || type.indexOf("stop") === 0;
    var mode = field("stop_mode").value;
    function show(name, on) { $("[data-for=" + name + "]", form).hidden = !on; }
    show("price", !isMarket);
    show("oco", oco);
    show("stop_mode", hasStop);
    show("stop_price", hasStop && mode === "price");
    show("trailing_amount", hasStop && mode === "amount");
    show("trailing_percent", hasStop && mode === "percent");
    show("stop_limit_price", oco);
    $("[data-price-label]", form).textContent = oco || type === "stop_limit" ? "Limit price" : "Price";
    var tif = field("time_in_force");
    Array.prototype.forEach.call(tif.options, function (option) {
      // DAY rests until the close: not for a plain market order, nor an OCO pair
      option.disabled = (oco && (option.value === "ioc" || option.value === "fok" || option.value === "day")) ||
        (type === "market" && option.value === "day");
    });
    if (tif.selectedOptions[0] && tif.selectedOptions[0].disabled) tif.value = "gtc";
    var gtd = tif.value === "gtd";
    show("expire_at", gtd);
    var expire = field("expire_at_local");
    expire.min = D.localInput(Date.now() + 60000, ZONE);
    expire.max = D.localInput(Date.now() + 365 * 86400000, ZONE);
    if (gtd && !expire.value) expire.value = D.localInput(Date.now() + 86400000, ZONE);
    var post = field("post_only");
    var postAllowed = (type === "limit" || oco) && (tif.value === "gtc" || tif.value === "gtd" || tif.value === "day");
    post.disabled = !postAllowed;
    if (!postAllowed) post.checked = false;
    updateSubmit();
    invalidate("estimate");
  }
  function updateSubmit() {
    if (!form) return;
    var submit = $("[data-submit]", form);
    var trading = state.status === "trading";
    submit.className = (state.side === "buy" ? "buy" : "sell") + " ts-submit";
    submit.textContent = trading ? (state.side === "buy" ? "Buy " : "Sell ") + cfg.base : "Trading halted";
    submit.disabled = !trading;
    submit.setAttribute("aria-disabled", trading ? "false" : "true");
  }

  function clearErrors() {
    $all("[data-error]", form).forEach(function (p) { p.textContent = ""; });
    $all("[aria-invalid]", form).forEach(function (i) { i.removeAttribute("aria-invalid"); });
    var box = $("[data-form-error]", form);
    box.hidden = true; box.textContent = ""; box.className = "errors";
  }

  // The API names its fields; a few are entered through another input here.
  var INPUT_OF = { trailing_bps: "trailing_percent", expire_at: "expire_at_local" };
  function showFormError(r) {
    if (!form) return;
    var box = $("[data-form-error]", form);
    var err = r.data && r.data.error;
    var message = err ? plainError(err) : r.status === 0 ? "Network error: the order may not have reached us; check your open orders." : "Something went wrong (" + r.status + "). Please try again.";
    if (r.status === 401 || r.status === 403 && err && err.code === "not_authenticated") message = "Your session ended: log in again.";
    box.textContent = message;
    box.className = "errors";
    box.hidden = false;
    if (err && err.details) {
      Object.keys(err.details).forEach(function (name) {
        var p = $("[data-error='" + name + "']", form);
        var messages = err.details[name];
        var text = Array.isArray(messages) ? messages.join(" ") : String(messages);
        // the input takes a percentage; the API counts basis points
        if (name === "trailing_bps" && text.indexOf("basis points") >= 0) text = "Trail by % (1% = 100 basis points): " + text;
        if (p) p.textContent = text;
        var input = form.elements[INPUT_OF[name] || name];
        if (input && input.setAttribute) input.setAttribute("aria-invalid", "true");
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
        $all("[data-side]", form).forEach(function (b) {
          b.classList.toggle("active", b === button);
          b.setAttribute("aria-pressed", b === button ? "true" : "false");
        });
        syncFormFields();
      });
    });
    ["type", "time_in_force", "stop_mode"].forEach(function (name) { field(name).addEventListener("change", syncFormFields); });
    form.addEventListener("input", function (event) {
      var name = event.target.name;
      Object.keys(INPUT_OF).forEach(function (k) { if (INPUT_OF[k] === name) name = k; });
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
    // The request for what the form says (single orders and OCO share the
    // names: price, stop_price | trailing_amount | trailing_bps, expire_at), or
    // null after marking an input the page cannot send as it is.
    function orderBody() {
      var type = field("type").value, oco = type === "oco";
      var body = {
        symbol: SYMBOL, side: state.side,
        time_in_force: field("time_in_force").value,
        post_only: field("post_only").checked,
        quantity: field("quantity").value.trim(),
        client_order_id: "web-" + Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 8)
      };
      if (!oco) body.type = type;
      if (type === "limit" || type === "stop_limit" || oco) body.price = field("price").value.trim();
      if (type.indexOf("stop") === 0 || oco) {
        var mode = field("stop_mode").value;
        if (mode === "price") body.stop_price = field("stop_price").value.trim();
        else if (mode === "amount") body.trailing_amount = field("trailing_amount").value.trim();
        else {
          var bps = D.bpsFromPercent(field("trailing_percent").value);
          if (bps === null) {
            return localError("trailing_bps", "Enter a percentage such as 1.5 (at most 2 decimals: 0.01% is 1 basis point).");
          }
          body.trailing_bps = Number(bps);
        }
      }
      if (oco && field("stop_limit_price").value.trim()) body.stop_limit_price = field("stop_limit_price").value.trim();
      if (body.time_in_force === "gtd") {
        var iso = D.zonedToIso(field("expire_at_local").value, ZONE);
        if (iso === null) return localError("expire_at", "Choose the date and time the order expires.");
        body.expire_at = iso;
      }
      return body;
    }
    function localError(name, message) {
      showFormError({ ok: false, status: 400, data: { error: {
        code: "validation_error", message: "Check the highlighted field.", details: (function () { var d = {}; d[name] = [message]; return d; })()
      } } });
      return null;
    }
    function busy(on) {
      inFlight = on;
      $("[data-submit]", form).disabled = on || state.status !== "trading";
    }
    function place(body) {
      busy(true);
      var oco = body.type === undefined;
      return api("POST", oco ? "/orders/oco" : "/orders", body).then(function (r) {
        busy(false);
        if (!r.ok) { showFormError(r); return; }
        var o = oco ? r.data.orders[0] : r.data;
        if (oco) {
          r.data.orders.forEach(upsertOrder);
          showNotice("OCO placed: order " + r.data.orders[0].id + " (limit) and order " + r.data.orders[1].id +
            " (stop), " + orderWords(o).replace(/ at .*/, "") + "; when one fills or triggers, the other is cancelled.");
        } else {
          upsertOrder(o);
          showNotice("Order " + o.id + " placed: " + orderWords(o) + " — " + o.status.replace("_", " ") +
            (o.filled_quantity && !D.isZero(o.filled_quantity) ? ", filled " + qty(o.filled_quantity) + " " + cfg.base : "") + ".");
        }
        field("quantity").value = "";
        invalidate("estimate");
        loadBalances();
        if (o.filled_quantity && !D.isZero(o.filled_quantity)) loadFills();
      });
    }
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (inFlight || state.status !== "trading") return;
      clearErrors();
      var body = orderBody();
      if (!body) return;
      if (body.type === undefined) { previewOco(body); return; }
      busy(true);
      // The server says what would happen (the same checks and hold as placing)
      // and whether this order is reviewed first.
      api("POST", "/orders/preview", body).then(function (r) {
        busy(false);
        if (!r.ok) { showFormError(r); return; }
        if (r.data && r.data.review_required) openReview(body, r.data);
        else place(body);
      });
    });
    // An OCO is always reviewed (it has a stop). Each leg is previewed as the
    // order it is (placement's own checks and hold); the pair holds the larger
    // of the two. A stop leg's "price" is the OCO's stop_limit_price.
    function ocoLegs(body) {
      var common = { symbol: body.symbol, side: body.side, quantity: body.quantity,
                     time_in_force: body.time_in_force, expire_at: body.expire_at };
      var limit = Object.assign({ type: "limit", price: body.price, post_only: body.post_only }, common);
      var stop = Object.assign({ type: body.stop_limit_price ? "stop_limit" : "stop_market" }, common);
      if (body.stop_limit_price) stop.price = body.stop_limit_price;
      ["stop_price", "trailing_amount", "trailing_bps"].forEach(function (k) { if (body[k] !== undefined) stop[k] = body[k]; });
      return [limit, stop];
    }
    function previewOco(body) {
      var legs = ocoLegs(body);
      busy(true);
      Promise.all(legs.map(function (leg) { return api("POST", "/orders/preview", leg); })).then(function (rs) {
        busy(false);
        if (!rs[0].ok) { showFormError(rs[0]); return; }
        if (!rs[1].ok) {
          var err = rs[1].data && rs[1].data.error;
          if (err && err.details && err.details.price) {
            err.details.stop_limit_price = err.details.price;
            delete err.details.price;
          }
          showFormError(rs[1]);
          return;
        }
        openOcoReview(body, rs[0].data, rs[1].data);
      });
    }
    reviewPlace = place;
    syncFormFields();
  }

  // --- notices (toasts), in plain words ----------------------------------------------
  function toast(text, kind) {
    var box = document.querySelector("[data-toasts]");
    if (!box) return;
    var node = el("div", "ts-toast", text);
    node.setAttribute("data-toast", kind || "info");
    box.appendChild(node);
    setTimeout(function () { node.classList.add("gone"); }, 7000);
    setTimeout(function () { node.remove(); }, 7600);
  }

  // The API's codes and field names stay in the API; the page says it plainly.
  var PLAIN = {
    insufficient_funds: function () { return "You do not have enough available balance for this order."; },
    instrument_not_trading: function () { return "Trading in " + SYMBOL + " is halted: new orders are refused until it resumes. You can still cancel open orders."; },
    day_needs_calendar: function () { return "A day order ends when the market closes for the day, and " + SYMBOL + " trades around the clock without a close. Choose good till cancelled or good till date instead."; },
    time_in_force_not_in_call: function (e) { var phase = ((e.details || {}).phase || ["a call"])[0]; return "Immediate-or-cancel and fill-or-kill orders wait for continuous trading; " + SYMBOL + " is in its " + String(phase).replace(/_/g, " ") + " now. A good-till-cancelled order takes part in the auction."; },
    price_out_of_band: function (e) { return "That price is too far from the last trade. " + tail(e.message); },
    below_min_notional: function (e) { return "The order is too small. " + tail(e.message); },
    below_min_quantity: function (e) { return "The quantity is too small. " + tail(e.message); },
    invalid_tick: function () { return "The price must be a multiple of " + cfg.tickSize + " " + cfg.quote + "."; },
    invalid_lot: function () { return "The quantity must be a multiple of " + cfg.lotSize + " " + cfg.base + "."; },
    too_many_open_orders: function () { return "You have the most open orders allowed; cancel some first."; },
    kyc_required: function () { return "Complete identity verification before trading."; },
    throttled: function () { return "Too many orders at once; wait a moment and try again."; },
    order_not_open: function () { return "That order is already closed."; }
  };
  function tail(message) {
    var text = String(message || "");
    var i = text.indexOf(": ");
    text = i >= 0 && i < 24 ? text.slice(i + 2) : text;
    return text.charAt(0).toUpperCase() + text.slice(1);
  }
  function plainError(err) {
    var plain = PLAIN[err.code];
    return plain ? plain(err) : tail(err.message);
  }

  // --- halts and resumes, live --------------------------------------------------------
  var STATUS_WORDS = { trading: "Trading", halted: "Halted", closed: "Closed" };
  function applyStatus(status, reason, time) {
    if (!status) return;
    var previous = state.status;
    state.status = status;
    state.statusReason = reason || "";
    root.setAttribute("data-status", status);
    var badge = $("[data-status-badge]");
    badge.hidden = status === "trading";
    badge.textContent = STATUS_WORDS[status] || status;
    var banner = $("[data-status-banner]");
    if (status === "trading") {
      banner.hidden = true;
      banner.textContent = "";
      if (time && previous !== "trading") toast("Trading in " + SYMBOL + " resumed at " + clock(time) + " " + ZONE_ABBR + ".", "resumed");
    } else {
      var when = time ? " since " + clock(time) + " " + ZONE_ABBR : "";
      banner.textContent = "Trading in " + SYMBOL + " is " + (status === "closed" ? "closed" : "halted") + when +
        (state.statusReason ? ": " + state.statusReason : "") + ". " +
        (status === "closed" ? "No new orders." : "Your open orders stay on the book and you can cancel them; new orders are refused until trading resumes.");
      banner.hidden = false;
      if (time && previous === "trading") toast("Trading in " + SYMBOL + " was halted.", "halted");
    }
    updateSubmit();
  }

  // --- session phase, next transition and indicative price, live -------------------
  var CALL_PHASES = ["pre_open", "opening_auction", "volatility_auction", "pre_close", "closing_auction"];
  var PHASE_WORDS = cfg.phaseWords || {};
  function phaseWord(phase) { return PHASE_WORDS[phase] || String(phase || "").replace(/_/g, " "); }
  function sessionShown(s) { return s.phase !== "continuous" || !!s.next_at || !!s.halted; }
  function inCall() { return CALL_PHASES.indexOf(state.session.phase) >= 0; }
  function applySession(s) {
    state.session = { phase: s.phase, next_phase: s.next_phase, next_at: s.next_at, halted: !!s.halted };
    var shown = sessionShown(state.session);
    var badge = $("[data-phase-badge]");
    badge.hidden = !shown;
    badge.setAttribute("data-phase", s.phase);
    badge.textContent = phaseWord(s.phase) + (s.halted ? " (halted)" : "");
    $("[data-session]").hidden = !shown;
    var next = $("[data-session-next]");
    next.hidden = !s.next_at;
    if (s.next_at) {
      next.firstChild.textContent = phaseWord(s.next_phase) + " ";
      var at = $("[data-session-next-at]");
      at.setAttribute("datetime", s.next_at);
      at.textContent = dayClock(s.next_at) + " " + ZONE_ABBR;
    }
    $("[data-session-halted]").hidden = !s.halted;
    if (!inCall()) state.indicative = null;
    renderIndicative();
    tickCountdown();
  }
  function applyIndicative(fields) {
    state.indicative = fields && fields.price != null ? fields : null;
    renderIndicative();
  }
  function renderIndicative() {
    var box = $("[data-indicative]"), none = $("[data-indicative-none]");
    var i = state.indicative, call = inCall();
    box.hidden = !(call && i);
    none.hidden = !(call && !i);
    if (!(call && i)) return;
    $("[data-indicative-price]").textContent = px(i.price);
    $("[data-indicative-quantity]").textContent = qty(i.quantity);
    $("[data-indicative-surplus]").textContent = i.surplus_side && !D.isZero(i.surplus)
      ? "(" + qty(i.surplus) + " " + (i.surplus_side === "buy" ? "to buy" : "to sell") + " left over)" : "";
  }
  // The time left until the next transition, every second while one is due.
  function tickCountdown() {
    var node = $("[data-session-countdown]"), s = state.session;
    if (!s.next_at) { node.textContent = ""; return; }
    var left = Math.round((new Date(s.next_at).getTime() - Date.now()) / 1000);
    if (isNaN(left)) { node.textContent = ""; return; }
    if (left <= 0) { node.textContent = "due now,"; return; }
    var h = Math.floor(left / 3600), m = Math.floor(left % 3600 / 60), sec = left % 60;
    node.textContent = "in " + (h ? h + " h " + String(m).padStart(2, "0") + " min"
      : m + ":" + String(sec).padStart(2, "0")) + ",";
  }
  setInterval(tickCountdown, 1000);
  applySession(state.session);

  // --- order review --------------------------------------------------------------------
  var reviewPlace;          // set by the order form above (places a body)
  var reviewBody = null;
  var reviewDialog = document.querySelector("[data-review]");
  function reviewRow(list, term, value, note) {
    var div = el("div");
    div.appendChild(el("dt", null, term));
    var dd = el("dd", "mono", value);
    if (note) dd.appendChild(el("span", "help", " " + note));
    div.appendChild(dd);
    list.appendChild(div);
  }
  function typeWords(p) {
    return ({ limit: "Limit", market: "Market", stop_limit: "Stop limit", stop_market: "Stop market" }[p.type] || p.type) +
      (isTrailing(p) ? " (trailing)" : "");
  }
  // The stop in words: a fixed price, or a trail with where it starts now.
  function stopWords(p, body) {
    var trail = body.trailing_amount != null || body.trailing_bps != null;
    if (!trail) return p.stop_price ? "when the price reaches " + px(p.stop_price) + " " + cfg.quote : "";
    var by = body.trailing_amount != null ? px(body.trailing_amount) + " " + cfg.quote
      : D.format(BigInt(body.trailing_bps), 2).replace(/\.?0+$/, "") + "% (" + body.trailing_bps + " bps)";
    return "trailing " + by + (p.side === "buy" ? " above" : " below") + " the last price" +
      (p.stop_price ? ", starting at " + px(p.stop_price) + " " + cfg.quote : "");
  }
  function tifWords(body) {
    if (body.time_in_force === "day") return "DAY (until today's close)";
    if (body.time_in_force !== "gtd") return body.time_in_force.toUpperCase();
    return "good till " + dayClock(body.expire_at) + " " + ZONE_ABBR;
  }
  function openOcoReview(body, limit, stop) {
    if (!reviewDialog) { reviewPlace(body); return; }
    reviewBody = body;
    var buy = body.side === "buy";
    document.querySelector("[data-review-title]").textContent =
      "Review: OCO " + (buy ? "buy " : "sell ") + qty(body.quantity) + " " + cfg.base;
    var list = document.querySelector("[data-review-list]");
    list.replaceChildren();
    reviewRow(list, "Limit order", "Limit at " + px(limit.price) + " " + cfg.quote + (body.post_only ? " · post-only" : ""));
    reviewRow(list, "Stop order", (body.stop_limit_price ? "Stop limit at " + px(body.stop_limit_price) + " " + cfg.quote : "Stop market") +
      ", " + stopWords(stop, body));
    reviewRow(list, "Time in force", tifWords(body), "(both orders)");
    var e = limit.estimate;
    reviewRow(list, "Estimated fill now", D.isZero(e.quantity) ? "Nothing fills at once" :
      qty(e.quantity) + " " + cfg.base + (e.average_price ? " at about " + px(e.average_price) + " " + cfg.quote : ""), "(the limit order, from the order book now)");
    var a = limit.hold, b = stop.hold;
    var larger = D.cmp(a.amount, b.amount) >= 0 ? a : b;
    reviewRow(list, "Held now", D.group(larger.amount) + " " + larger.asset, "of " + D.group(larger.available) + " available (one hold for both: the larger order's)");
    document.querySelector("[data-review-note]").textContent =
      "When one order fills (even in part) or triggers, the other is cancelled; cancelling one cancels both. What is not used is released.";
    var confirm = document.querySelector("[data-review-confirm]");
    confirm.className = buy ? "buy" : "sell";
    confirm.textContent = "Confirm OCO " + (buy ? "buy" : "sell");
    reviewDialog.showModal();
    confirm.focus();
  }
  function openReview(body, p) {
    if (!reviewDialog) { reviewPlace(body); return; }
    reviewBody = body;
    var e = p.estimate, h = p.hold;
    var buy = p.side === "buy";
    document.querySelector("[data-review-title]").textContent =
      "Review: " + (buy ? "buy " : "sell ") + (p.quantity ? qty(p.quantity) + " " + cfg.base : D.group(p.quote_quantity) + " " + cfg.quote + " of " + cfg.base);
    var list = document.querySelector("[data-review-list]");
    list.replaceChildren();
    reviewRow(list, "Order", typeWords(p) + (p.price ? " at " + px(p.price) + " " + cfg.quote : "") +
      (p.stop_price || isTrailing(body) ? ", " + stopWords(p, body) : "") +
      (p.type === "limit" || p.type === "stop_limit" || body.time_in_force === "gtd" || body.time_in_force === "day" ? " · " + tifWords(body) : ""));
    var estimateNote = e.basis === "stop" ? "(at the stop" + (p.type === "stop_limit" ? "'s limit" : "") + " price; the book then may differ)" : "(from the order book now)";
    reviewRow(list, "Estimated fill", D.isZero(e.quantity) ? "Nothing fills at once" :
      qty(e.quantity) + " " + cfg.base + (e.average_price ? " at about " + px(e.average_price) + " " + cfg.quote : ""), estimateNote);
    if (!D.isZero(e.quantity)) reviewRow(list, "Estimated value", D.group(e.value) + " " + cfg.quote);
    if (!D.isZero(e.resting_quantity)) reviewRow(list, "Rests on the book", qty(e.resting_quantity) + " " + cfg.base);
    if (!D.isZero(e.unfilled_quantity)) reviewRow(list, "Not filled (ends)", qty(e.unfilled_quantity) + " " + cfg.base, "(the book is too thin or the order's terms stop it)");
    reviewRow(list, "Estimated fees", D.group(e.fee) + " " + e.fee_asset, "(your rates: maker " + p.maker_fee_bps + " / taker " + p.taker_fee_bps + " bps)");
    reviewRow(list, "Held now", D.group(h.amount) + " " + h.asset, "of " + D.group(h.available) + " available");
    var note = document.querySelector("[data-review-note]");
    note.textContent = buy && (p.type === "market" || p.type === "stop_market") && p.quantity
      ? "A market buy holds at most its quantity at the price limit, plus fees; the rest of your balance stays available, and what it does not spend is released when it ends."
      : "What is not used is released when the order ends.";
    var confirm = document.querySelector("[data-review-confirm]");
    confirm.className = buy ? "buy" : "sell";
    confirm.textContent = "Confirm " + (buy ? "buy" : "sell");
    reviewDialog.showModal();
    confirm.focus();
  }
  if (reviewDialog) {
    document.querySelector("[data-review-form]").addEventListener("submit", function (event) {
      event.preventDefault();
      var body = reviewBody;
      reviewBody = null;
      reviewDialog.close();
      if (body && reviewPlace) reviewPlace(body);
    });
    document.querySelector("[data-review-cancel]").addEventListener("click", function () {
      reviewBody = null;
      reviewDialog.close();
    });
  }

  // --- the "skip the review for limit orders" preference ---------------------------
  var skip = $("[data-skip-review]");
  function loadPreferences() {
    if (!skip || !cfg.authenticated) return;
    api("GET", "/trading/preferences").then(function (r) {
      if (r.ok && r.data) skip.checked = !!r.data.skip_review_for_limit_orders;
    });
  }
  if (skip) {
    skip.addEventListener("change", function () {
      var wanted = skip.checked;
      api("PUT", "/trading/preferences", { skip_review_for_limit_orders: wanted }).then(function (r) {
        if (!r.ok) { skip.checked = !wanted; toast("Your preference could not be saved; try again.", "error"); return; }
        toast(wanted ? "Limit orders will be placed without a review." : "Limit orders will be reviewed when large.", "preference");
      });
    });
  }

  // --- depth chart (cumulative bids and asks, on a canvas) ---------------------------
  var DEPTH_LEVELS = 60;
  function renderDepth() {
    var box = $("[data-depth]");
    var canvas = $("[data-depth-canvas]");
    if (!box || !canvas || state.chartView !== "depth") return;
    var bids = sortedLevels(state.bids, true).slice(0, DEPTH_LEVELS);
    var asks = sortedLevels(state.asks, false).slice(0, DEPTH_LEVELS);
    root.setAttribute("data-depth-points", String(bids.length + asks.length));
    var width = box.clientWidth, height = Math.max(160, box.clientHeight - 28);
    var ratio = window.devicePixelRatio || 1;
    canvas.width = Math.round(width * ratio); canvas.height = Math.round(height * ratio);
    canvas.style.width = width + "px"; canvas.style.height = height + "px";
    var g = canvas.getContext("2d");
    g.setTransform(ratio, 0, 0, ratio, 0, 0);
    g.clearRect(0, 0, width, height);
    var k = chartColors();
    g.font = "11px " + getComputedStyle(document.body).fontFamily;
    g.fillStyle = k.text;
    if (!bids.length && !asks.length) {
      g.textAlign = "center";
      g.fillText("The book is empty.", width / 2, height / 2);
      return;
    }
    function cumulative(levels) {
      var total = 0;
      return levels.map(function (l) { total += num(l[1]); return [num(l[0]), total]; });
    }
    var cb = cumulative(bids), ca = cumulative(asks);
    var prices = cb.concat(ca).map(function (p) { return p[0]; });
    var low = Math.min.apply(null, prices), high = Math.max.apply(null, prices);
    if (high === low) { high += 1; low -= 1; }
    var maxQty = Math.max(cb.length ? cb[cb.length - 1][1] : 0, ca.length ? ca[ca.length - 1][1] : 0) || 1;
    var left = 8, right = width - 8, top = 16, bottom = height - 18;
    function x(price) { return left + (price - low) / (high - low) * (right - left); }
    function y(q) { return bottom - q / maxQty * (bottom - top); }
    function side(points, color, towardsLeft) {
      if (!points.length) return;
      g.beginPath();
      g.moveTo(x(points[0][0]), bottom);
      points.forEach(function (p, i) {
        var prevQ = i ? points[i - 1][1] : 0;
        g.lineTo(x(p[0]), y(prevQ));
        g.lineTo(x(p[0]), y(p[1]));
      });
      var last = points[points.length - 1];
      g.lineTo(towardsLeft ? left : right, y(last[1]));
      g.lineTo(towardsLeft ? left : right, bottom);
      g.closePath();
      g.fillStyle = alpha(color, 0.22);
      g.fill();
      g.strokeStyle = color;
      g.lineWidth = 1.5;
      g.stroke();
    }
    side(cb, k.up, true);
    side(ca, k.down, false);
    g.fillStyle = k.text;
    g.textAlign = "left"; g.fillText(px(String(low)), left, height - 4);
    g.textAlign = "right"; g.fillText(px(String(high)), right, height - 4);
    g.textAlign = "left"; g.fillText(qty(String(maxQty)) + " " + cfg.base, left, 11);
    if (cb.length && ca.length) {
      g.textAlign = "center";
      g.fillText("mid " + px(String((cb[0][0] + ca[0][0]) / 2)), (x(cb[0][0]) + x(ca[0][0])) / 2, 11);
    }
  }
  $all("[data-chart-view]").forEach(function (button) {
    button.addEventListener("click", function () { setChartView(button.getAttribute("data-chart-view")); });
  });
  function setChartView(view) {
    state.chartView = view;
    $all("[data-chart-view]").forEach(function (b) {
      var on = b.getAttribute("data-chart-view") === view;
      b.classList.toggle("active", on);
      b.setAttribute("aria-pressed", on ? "true" : "false");
    });
    $("[data-chart]").hidden = view !== "price";
    $("[data-intervals]").hidden = view !== "price";
    $("[data-depth]").hidden = view !== "depth";
    invalidate("book");
  }
  window.addEventListener("resize", function () { if (state.chartView === "depth") invalidate("book"); });

  // --- markets: search and watchlist ---------------------------------------------------
  var search = $("[data-market-search]");
  function loadMarkets() {
    api("GET", "/markets").then(function (r) {
      if (!r.ok || !r.data) return;
      state.markets = r.data.results || [];
      invalidate("markets");
    });
    if (cfg.authenticated) {
      api("GET", "/watchlist/").then(function (r) {
        state.watch = r.ok && r.data && Array.isArray(r.data.results)
          ? new Set(r.data.results.map(function (w) { return w.symbol; }))
          : null;
        invalidate("markets");
      });
    }
  }
  function matches(m, q) {
    if (!q) return true;
    q = q.toUpperCase();
    return m.symbol.indexOf(q) >= 0 || (m.base || "").indexOf(q) >= 0 || (m.quote || "").indexOf(q) >= 0;
  }
  function renderMarkets() {
    var list = $("[data-market-list]");
    if (!list) return;
    var q = search ? search.value.trim() : "";
    var watch = state.watch;
    var rows = state.markets.filter(function (m) { return m.status !== "closed" && matches(m, q); });
    rows.sort(function (a, b) {
      var wa = watch && watch.has(a.symbol) ? 0 : 1, wb = watch && watch.has(b.symbol) ? 0 : 1;
      return wa - wb || (a.symbol < b.symbol ? -1 : 1);
    });
    var frag = document.createDocumentFragment();
    rows.forEach(function (m) {
      var li = el("li", "ts-market" + (m.symbol === SYMBOL ? " current" : ""));
      li.setAttribute("data-market", m.symbol);
      if (watch) {
        var on = watch.has(m.symbol);
        var star = el("button", "link ts-star" + (on ? " on" : ""), on ? "★" : "☆");
        star.type = "button";
        star.setAttribute("aria-pressed", on ? "true" : "false");
        star.setAttribute("aria-label", (on ? "Remove " : "Add ") + m.symbol + (on ? " from" : " to") + " your watchlist");
        star.setAttribute("data-star", m.symbol);
        li.appendChild(star);
      }
      var link = el("a", "ts-market-link");
      link.href = "/trade/" + encodeURIComponent(m.symbol) + "/";
      link.appendChild(el("span", "ts-market-name", m.base + "/" + m.quote));
      link.appendChild(el("span", "mono", m.last_price ? D.group(m.last_price) : "—"));
      var change = m.change_percent_24h;
      link.appendChild(el("span", "mono " + (change == null || D.isZero(change) ? "" : String(change).charAt(0) === "-" ? "down" : "up"),
        change == null ? "" : (String(change).charAt(0) === "-" || D.isZero(change) ? "" : "+") + change + "%"));
      li.appendChild(link);
      if (m.status === "halted") li.appendChild(el("span", "badge warn", "Halted"));
      frag.appendChild(li);
    });
    if (!rows.length) frag.appendChild(el("li", "help ts-pad", q ? "No market matches “" + q + "”." : "No markets."));
    list.replaceChildren(frag);
  }
  if (search) {
    search.addEventListener("input", function () { invalidate("markets"); });
    search.addEventListener("keydown", function (event) {
      if (event.key !== "Enter") return;
      var first = $("[data-market-list] .ts-market-link");
      if (first) { event.preventDefault(); location.href = first.href; }
    });
  }
  root.addEventListener("click", function (event) {
    var star = event.target.closest("[data-star]");
    if (!star || !state.watch) return;
    var symbol = star.getAttribute("data-star");
    var on = state.watch.has(symbol);
    star.disabled = true;
    api(on ? "DELETE" : "PUT", "/watchlist/" + encodeURIComponent(symbol) + "/", on ? undefined : {}).then(function (r) {
      star.disabled = false;
      if (!r.ok) { toast("Your watchlist could not be changed; try again.", "error"); return; }
      if (on) state.watch.delete(symbol); else state.watch.add(symbol);
      toast(symbol + (on ? " removed from" : " added to") + " your watchlist.", "watchlist");
      invalidate("markets");
    });
  });

  // --- keyboard shortcuts ------------------------------------------------------------
  var help = document.querySelector("[data-help]");
  function openHelp() { if (help && !help.open) help.showModal(); }
  $all("[data-help-open]").forEach(function (b) { b.addEventListener("click", openHelp); });
  function chooseSide(side) {
    if (!form) return;
    var button = $("[data-side='" + side + "']", form);
    if (button) button.click();
    var target = field("type").value === "market" || field("type").value === "stop_market" ? field("quantity") : field("price");
    if (target.closest("[hidden]")) target = field("quantity");
    target.focus();
    target.scrollIntoView({ block: "nearest" });
  }
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key === "Escape") {
      [help, reviewDialog].forEach(function (d) { if (d && d.open) d.close(); });
      if (document.activeElement && document.activeElement !== document.body && root.contains(document.activeElement)) document.activeElement.blur();
      return;
    }
    var target = event.target;
    var typing = target && (target.isContentEditable || /^(INPUT|SELECT|TEXTAREA)$/.test(target.tagName));
    if (typing || (help && help.open) || (reviewDialog && reviewDialog.open)) return;
    if (event.key === "?") { event.preventDefault(); openHelp(); }
    else if (event.key === "b") { event.preventDefault(); chooseSide("buy"); }
    else if (event.key === "s") { event.preventDefault(); chooseSide("sell"); }
    else if (event.key === "/") { if (search) { event.preventDefault(); search.focus(); } }
    else if (event.key === "d") { event.preventDefault(); setChartView(state.chartView === "depth" ? "price" : "depth"); }
  });

  // --- tabs --------------------------------------------------------------------------
  $all("[data-tab]").forEach(function (tab) {
    tab.addEventListener("click", function () {
      var name = tab.getAttribute("data-tab");
      $all("[data-tab]").forEach(function (t) {
        t.classList.toggle("active", t === tab);
        t.setAttribute("aria-selected", t === tab ? "true" : "false");
      });
      $all("[data-panel]").forEach(function (p) { p.hidden = p.getAttribute("data-panel") !== name; });
    });
  });

  // --- start ----------------------------------------------------------------------
  function start() {
    zoneLabels();
    try {
      var kept = localStorage.getItem("ts-interval");
      if (kept && cfg.intervals.indexOf(kept) >= 0) {
        state.interval = kept;
        $all("[data-interval]").forEach(function (b) {
          var on = b.getAttribute("data-interval") === kept;
          b.classList.toggle("active", on);
          b.setAttribute("aria-pressed", on ? "true" : "false");
        });
      }
    } catch (e) { /* private mode */ }
    applyStatus(state.status, state.statusReason, null);
    loadMarkets();
    loadPreferences();
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
