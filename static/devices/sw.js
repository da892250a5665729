// The Web Push service worker, served at /sw.js (scope: the whole site).
// A push carries JSON {title, body, url, tag, data} (devices/senders.py): show it
// as a notification; a click focuses a tab already on its page or opens one.
"use strict";

self.addEventListener("push", function (event) {
  var message = {};
  try {
    message = event.data ? event.data.json() : {};
  } catch (error) {
    message = { body: event.data ? event.data.text() : "" };
  }
  var home = new URL("/", self.location.origin).href;
  var url = home;
  try {
    var parsed = new URL(message.url || "/", self.location.origin);
    // only this site's pages: a push never sends the user elsewhere
    if (parsed.origin === self.location.origin) url = parsed.href;
  } catch (error) {
    url = home;
  }
  event.waitUntil(
    self.registration.showNotification(message.title || "Exchange", {
      body: message.body || "",
      tag: message.tag || undefined,
      data: { url: url },
    })
  );
});

self.addEventListener("notificationclick", function (event) {
  event.notification.close();
  var url = (event.notification.data && event.notification.data.url) || "/";
  event.waitUntil(
    self.clients.matchAll({ type: "window", includeUncontrolled: true }).then(
      function (windows) {
        for (var i = 0; i < windows.length; i++) {
          if (windows[i].url === url && "focus" in windows[i]) {
            return windows[i].focus();
          }
        }
        return self.clients.openWindow(url);
      }
    )
  );
});
