// Asks before a destructive submit: <input type="submit" data-confirm="Sure?">.
// Replaces inline onclick="return confirm(...)" handlers, which the
// Content-Security-Policy forbids (no 'unsafe-inline' for scripts).
"use strict";
document.addEventListener("click", (event) => {
  const target = event.target instanceof Element ? event.target.closest("[data-confirm]") : null;
  if (target && !window.confirm(target.dataset.confirm)) {
    event.preventDefault();
  }
});
