// The price alerts panel of the trade screen: lists, adds and removes the
// signed-in user's alerts on this instrument through /api/v1/price-alerts
// (the browser session and its CSRF token). Prices stay decimal strings.
(function () {
  "use strict";
  var panel = document.querySelector("[data-price-alerts]");
  if (!panel) return;
  var symbol = panel.getAttribute("data-symbol");
  var base = panel.getAttribute("data-api") + "/price-alerts";
  var csrf = panel.getAttribute("data-csrf");
  var form = panel.querySelector("[data-pa-form]");
  var rows = panel.querySelector("[data-pa-rows]");
  var formError = panel.querySelector("[data-pa-form-error]");
  var repeating = panel.querySelector("[data-pa-repeating]");
  var cooldownBox = panel.querySelector("[data-pa-cooldown]");
  var submit = panel.querySelector("[data-pa-submit]");

  function api(method, path, body) {
    var headers = { "Accept": "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (method !== "GET") headers["X-CSRFToken"] = csrf;
    return fetch(base + path, {
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

  function cell(text, className) {
    var td = document.createElement("td");
    td.textContent = text;
    if (className) td.className = className;
    return td;
  }

  function when(value) {
    var d = new Date(value);
    return isNaN(d) ? "" : d.toLocaleString();
  }

  function kind(alert) {
    if (!alert.repeating) return "Once";
    var minutes = Math.round(alert.cooldown_seconds / 60);
    return "Repeats, rests " + minutes + " min";
  }

  function state(alert) {
    if (alert.active && alert.cooldown_until && new Date(alert.cooldown_until) > new Date()) {
      return "Resting until " + when(alert.cooldown_until);
    }
    if (alert.active) return "Watching";
    if (alert.triggered_count) return "Fired " + when(alert.last_triggered_at);
    return "Paused";
  }

  function render(alerts) {
    rows.textContent = "";
    if (!alerts.length) {
      var empty = document.createElement("tr");
      empty.className = "ts-empty";
      var td = cell("No price alerts on " + symbol + " yet.");
      td.colSpan = 5;
      empty.appendChild(td);
      rows.appendChild(empty);
      return;
    }
    alerts.forEach(function (alert) {
      var tr = document.createElement("tr");
      tr.setAttribute("data-pa-alert", String(alert.id));
      if (!alert.active) tr.className = "pa-fired";
      tr.appendChild(cell(alert.condition === "above" ? "At or above" : "At or below"));
      tr.appendChild(cell(alert.price, "num mono"));
      tr.appendChild(cell(kind(alert)));
      tr.appendChild(cell(state(alert), "pa-state"));
      var actions = document.createElement("td");
      var remove = document.createElement("button");
      remove.type = "button";
      remove.className = "link";
      remove.textContent = "Remove";
      remove.setAttribute("aria-label", "Remove the alert " + alert.condition + " " + alert.price);
      remove.addEventListener("click", function () {
        remove.disabled = true;
        api("DELETE", "/" + alert.id).then(function (result) {
          if (!result.ok && result.status !== 404) {
            remove.disabled = false;
            showError(result);
            return;
          }
          load();
        });
      });
      actions.appendChild(remove);
      tr.appendChild(actions);
      rows.appendChild(tr);
    });
  }

  function load() {
    return api("GET", "?symbol=" + encodeURIComponent(symbol) + "&limit=200").then(function (result) {
      if (result.ok && result.data) render(result.data.results || []);
    });
  }

  function clearErrors() {
    formError.hidden = true;
    formError.textContent = "";
    panel.querySelectorAll("[data-pa-error]").forEach(function (p) { p.textContent = ""; });
  }

  function showError(result) {
    var error = result.data && result.data.error;
    if (!error) {
      formError.textContent = result.status === 0 ? "The server could not be reached." : "Something went wrong.";
      formError.hidden = false;
      return;
    }
    var shown = false;
    Object.keys(error.details || {}).forEach(function (field) {
      var target = panel.querySelector('[data-pa-error="' + field + '"]');
      var messages = error.details[field];
      if (target && Array.isArray(messages)) {
        target.textContent = messages.join(" ");
        shown = true;
      }
    });
    if (!shown) {
      formError.textContent = error.message;
      formError.hidden = false;
    }
  }

  repeating.addEventListener("change", function () {
    cooldownBox.hidden = !repeating.checked;
  });

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    clearErrors();
    var body = {
      symbol: symbol,
      condition: form.elements.condition.value,
      price: form.elements.price.value.trim(),
      repeating: repeating.checked
    };
    if (repeating.checked) {
      var minutes = form.elements.cooldown.value.trim();
      if (!/^[0-9]+$/.test(minutes)) {
        panel.querySelector('[data-pa-error="cooldown_seconds"]').textContent = "Whole minutes, e.g. 5.";
        return;
      }
      body.cooldown_seconds = Number(minutes) * 60;
    }
    submit.disabled = true;
    api("POST", "", body).then(function (result) {
      submit.disabled = false;
      if (!result.ok) {
        showError(result);
        return;
      }
      form.elements.price.value = "";
      load();
    });
  });

  load();
})();
