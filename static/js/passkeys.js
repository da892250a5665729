// The factors page: once django-otp-webauthn has saved a new passkey, reload so
// the list shows it (with its name, to rename or remove).
document.addEventListener("otp_webauthn.register_complete", () => {
  window.location.reload();
});
