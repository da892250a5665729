// The reader's time zone (accounts/timezones.py). A user with no zone of their own
// sees the browser's: it is read here with Intl and kept in the "tz" cookie, which
// the server uses for every page after. On the first visit the page was drawn in
// UTC, so it is drawn again once, in the browser's zone.
(function () {
  "use strict";
  var zone;
  try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone; } catch (e) { return; }
  if (!zone) return;
  var body = document.body;
  var current = (document.cookie.match(/(?:^|; )tz=([^;]*)/) || [])[1];
  if (current !== encodeURIComponent(zone)) {
    document.cookie = "tz=" + encodeURIComponent(zone) +
      "; path=/; max-age=31536000; SameSite=Lax" +
      (location.protocol === "https:" ? "; Secure" : "");
  }
  var own = body && body.getAttribute("data-time-zone-own") === "1";
  var shown = body && body.getAttribute("data-time-zone");
  var drawn = "tz-redrawn:" + location.pathname;
  if (!own && shown && shown !== zone && !sessionStorage.getItem(drawn) &&
      document.querySelector("time[datetime]")) {
    sessionStorage.setItem(drawn, "1");
    location.reload();
  }
})();
