// The notification centre on every page (templates/notifications/_centre.html).
// The page renders the bell only (no query per page); this loads the latest
// items and the unread count from the API, marks read through it, and keeps
// both live from the user stream (/ws/user/, the browser session): each
// "notification" event carries the new item (or none) and the unread count.
// Without JavaScript the bell is a link to /notifications/.
(function () {
  "use strict";
  var root = document.querySelector("[data-notif-centre]");
  if (!root) return;
  var toggle = root.querySelector("[data-notif-toggle]");
  var menu = root.querySelector("[data-notif-menu]");
  var count = root.querySelector("[data-notif-count]");
  var list = root.querySelector("[data-notif-list]");
  var csrf = root.getAttribute("data-csrf");
  var MAX_ITEMS = 8;

  function setOpen(open) {
    menu.hidden = !open;
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
  }
  toggle.addEventListener("click", function (e) {
    e.preventDefault();
    setOpen(menu.hidden);
  });
  document.addEventListener("keydown", function (e) {
    if (e.key === "Escape" && !menu.hidden) { setOpen(false); toggle.focus(); }
  });
  document.addEventListener("click", function (e) {
    if (!menu.hidden && !root.contains(e.target)) setOpen(false);
  });

  function setCount(n) {
    count.textContent = String(n);
    count.hidden = n <= 0;
  }

  function post(url) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrf, "Accept": "application/json" },
    }).then(function (r) { return r.ok ? r.json() : null; });
  }

  function itemElement(item) {
    var li = document.createElement("li");
    if (!item.read_at) li.className = "unread";
    var link = document.createElement("a");
    link.className = "notif-item";
    link.href = item.url || root.querySelector(".notif-foot a").getAttribute("href");
    var title = document.createElement("span");
    title.className = "notif-title";
    title.textContent = item.title;
    var time = document.createElement("time");
    time.dateTime = item.created_at;
    time.textContent = new Date(item.created_at).toLocaleString();
    link.append(title, " ", time);
    link.addEventListener("click", function (e) {
      if (item.read_at) return;
      e.preventDefault();
      var url = root.getAttribute("data-read-api").replace(/\/0\/read$/, "/" + item.id + "/read");
      post(url).then(function (body) {
        if (body) setCount(body.unread);
        location.href = link.href;
      });
    });
    li.append(link);
    return li;
  }

  function addItem(item, atEnd) {
    var empty = list.querySelector("[data-notif-empty]");
    if (empty) empty.remove();
    if (list.querySelector('[data-id="' + item.id + '"]')) return;
    var li = itemElement(item);
    li.setAttribute("data-id", String(item.id));
    if (atEnd) list.append(li); else list.prepend(li);
    while (list.children.length > MAX_ITEMS) list.lastElementChild.remove();
  }

  root.querySelector("[data-notif-read-all]").addEventListener("click", function () {
    post(root.getAttribute("data-read-all-api")).then(function (body) {
      if (!body) return;
      setCount(0);
      list.querySelectorAll("li.unread").forEach(function (li) { li.classList.remove("unread"); });
    });
  });

  fetch(root.getAttribute("data-api") + "?limit=" + MAX_ITEMS, {
    credentials: "same-origin",
    headers: { "Accept": "application/json" },
  }).then(function (r) {
    if (!r.ok) return;
    setCount(parseInt(r.headers.get("X-Unread-Count") || "0", 10));
    return r.json().then(function (page) {
      page.results.forEach(function (item) { addItem(item, true); });
    });
  });

  var delay = 1000;
  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var ws = new WebSocket(scheme + location.host + "/ws/user/");
    ws.onopen = function () { delay = 1000; };
    ws.onmessage = function (e) {
      var msg;
      try { msg = JSON.parse(e.data); } catch (err) { return; }
      if (msg.type !== "notification") return;
      if (msg.notification) addItem(msg.notification, false);
      if (typeof msg.unread === "number") setCount(msg.unread);
    };
    ws.onclose = function (e) {
      if (e.code === 4401) return; // signed out: stay quiet
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 30000);
    };
  }
  connect();
})();
