// KYC upload preview: show the chosen image (or the PDF's name and size) before it
// is sent, and warn at once when the file is over the limit. The server decides.
(function () {
  var input = document.querySelector("[data-kyc-file]");
  var preview = document.querySelector("[data-kyc-preview]");
  if (!input || !preview) return;
  var reader = null;

  function sizeLabel(bytes) {
    return bytes < 1048576 ? (bytes / 1024).toFixed(0) + " KiB" : (bytes / 1048576).toFixed(1) + " MiB";
  }

  input.addEventListener("change", function () {
    if (reader) reader.abort();
    reader = null;
    preview.textContent = "";
    var file = input.files && input.files[0];
    if (!file) { preview.hidden = true; return; }
    preview.hidden = false;
    var info = document.createElement("p");
    info.className = "help";
    info.textContent = file.name + " · " + sizeLabel(file.size);
    var max = parseInt(input.getAttribute("data-max-bytes"), 10);
    if (max && file.size > max) {
      info.className = "field-error";
      info.textContent += " — over the " + sizeLabel(max) + " limit";
    }
    if (file.type === "image/jpeg" || file.type === "image/png") {
      // a data: URL, which the pages' policy allows for images (blob: it refuses)
      var img = document.createElement("img");
      img.alt = "Preview of " + file.name;
      img.className = "kyc-thumb large";
      var current = new FileReader();
      reader = current;
      current.onload = function () { img.src = current.result; };
      current.readAsDataURL(file);
      preview.appendChild(img);
    } else if (file.type !== "application/pdf") {
      info.className = "field-error";
      info.textContent += " — only JPEG, PNG or PDF";
    }
    preview.appendChild(info);
  });
})();
