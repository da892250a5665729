// "This browser" on the notification channels page: registers the service
// worker (/sw.js), subscribes this browser to Web Push with the site's VAPID
// key, and sends the subscription to the API (or takes it back).
(function () {
  "use strict";
  var root = document.getElementById("webpush");
  if (!root) return;
  var status = root.querySelector("[data-webpush-status]");
  var onButton = root.querySelector("[data-webpush-on]");
  var offButton = root.querySelector("[data-webpush-off]");

  function say(text) { status.textContent = text; }

  function keyBytes(base64url) {
    var padded = (base64url + "===".slice((base64url.length + 3) % 4))
      .replace(/-/g, "+").replace(/_/g, "/");
    var raw = atob(padded);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    return bytes;
  }

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": root.dataset.csrf },
      body: JSON.stringify(body),
    }).then(function (response) {
      if (response.ok) return response;
      return response.json().then(function (data) {
        throw new Error((data.error && data.error.message) || "Request failed");
      }, function () { throw new Error("Request failed (" + response.status + ")"); });
    });
  }

  function show(subscribed) {
    onButton.hidden = subscribed;
    offButton.hidden = !subscribed;
    say(subscribed
      ? "This browser receives your notifications."
      : "This browser does not receive your notifications.");
  }

  if (!("serviceWorker" in navigator) || !("PushManager" in window)) {
    say("This browser cannot receive push notifications.");
    return;
  }

  var registration = navigator.serviceWorker.register(root.dataset.sw, { scope: "/" });

  registration.then(function (reg) {
    return reg.pushManager.getSubscription();
  }).then(function (subscription) {
    show(Boolean(subscription));
  }).catch(function (error) {
    say("Notifications cannot be set up here: " + error.message);
  });

  onButton.addEventListener("click", function () {
    onButton.disabled = true;
    Notification.requestPermission().then(function (permission) {
      if (permission !== "granted") throw new Error("you did not allow notifications");
      return registration;
    }).then(function (reg) {
      return reg.pushManager.subscribe({
        userVisibleOnly: true,
        applicationServerKey: keyBytes(root.dataset.publicKey),
      });
    }).then(function (subscription) {
      return post(root.dataset.subscribeUrl, subscription.toJSON());
    }).then(function () {
      window.location.reload();
    }).catch(function (error) {
      say("Could not turn on notifications: " + error.message);
    }).finally(function () {
      onButton.disabled = false;
    });
  });

  offButton.addEventListener("click", function () {
    offButton.disabled = true;
    registration.then(function (reg) {
      return reg.pushManager.getSubscription();
    }).then(function (subscription) {
      if (!subscription) return null;
      var endpoint = subscription.endpoint;
      return subscription.unsubscribe().then(function () {
        return post(root.dataset.unsubscribeUrl, { endpoint: endpoint });
      });
    }).then(function () {
      window.location.reload();
    }).catch(function (error) {
      say("Could not turn off notifications: " + error.message);
    }).finally(function () {
      offButton.disabled = false;
    });
  });
})();
