/* 检查表 on a phone: the form works without this script (except the automatic position); with it,
   - the position comes from the browser's geolocation into hidden fields,
   - photos add up across several shots, are shrunk on the phone before upload (the server re-checks them),
   - the form is sent in the background with a progress bar; the submit button is disabled while sending;
   - a network failure keeps everything (and the same submission key), so tapping Submit again is safe:
     the server stores one result per key and shows the same confirmation;
   - validation errors come back beside the fields, and the chosen photos are kept. */
(function () {
  "use strict";

  var gettext = window.gettext || function (s) { return s; };
  var interpolate = window.interpolate || function (f, o) { return f.replace(/%\((\w+)\)s/g, function (m, k) { return o[k]; }); };
  var MAX_SIDE = 1600;
  var MAX_BYTES = 10 * 1024 * 1024;
  var photos = [];  // {name, blob, url, ready}: the selection, kept across a re-rendered form
  var sending = false;

  function currentForm() { return document.getElementById("check-form"); }

  function uuid4() {
    if (window.crypto && typeof window.crypto.randomUUID === "function") { return window.crypto.randomUUID(); }
    var bytes = window.crypto.getRandomValues(new Uint8Array(16));
    bytes[6] = (bytes[6] & 15) | 64;
    bytes[8] = (bytes[8] & 63) | 128;
    var hex = Array.prototype.map.call(bytes, function (b) { return (b + 256).toString(16).slice(1); }).join("");
    return [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20), hex.slice(20)].join("-");
  }

  /* --- Check points and conclusion ------------------------------------------------------------------- */

  function bindItems(form) {
    var touched = !!form.querySelector("input[name=conclusion]:checked");
    form.querySelectorAll("input[name=conclusion]").forEach(function (radio) {
      radio.addEventListener("change", function () { touched = true; });
    });
    function suggestConclusion() {
      if (touched) { return; }
      var items = form.querySelectorAll("fieldset.item");
      var failed = form.querySelector("fieldset.item input[value=nonconforming]:checked");
      var answered = form.querySelectorAll("fieldset.item input[type=radio]:checked").length;
      var value = failed ? "nonconforming" : (answered === items.length ? "conforming" : null);
      var radio = value && form.querySelector("input[name=conclusion][value=" + value + "]");
      if (radio) { radio.checked = true; }
    }
    form.querySelectorAll("fieldset.item").forEach(function (item) {
      var note = item.querySelector(".item-note");
      item.addEventListener("change", function (event) {
        if (event.target.type !== "radio") { return; }
        var failed = event.target.value === "nonconforming";
        item.classList.toggle("is-nc", failed);
        note.required = failed;
        if (failed && !note.value) { note.focus(); }
        suggestConclusion();
      });
    });
  }

  /* --- Photos ---------------------------------------------------------------------------------------- */

  function shrink(file) {
    // Shrink on the phone so a weak network carries ~300 kB, not 5 MB; on any failure send the original.
    if (!window.createImageBitmap || !window.HTMLCanvasElement || !HTMLCanvasElement.prototype.toBlob) { return Promise.resolve(file); }
    return window.createImageBitmap(file, { imageOrientation: "from-image" }).then(function (bitmap) {
      var scale = Math.min(1, MAX_SIDE / Math.max(bitmap.width, bitmap.height));
      if (scale === 1 && file.type === "image/jpeg" && file.size < 1024 * 1024) { return file; }
      var canvas = document.createElement("canvas");
      canvas.width = Math.round(bitmap.width * scale);
      canvas.height = Math.round(bitmap.height * scale);
      var context = canvas.getContext("2d");
      context.fillStyle = "#fff";
      context.fillRect(0, 0, canvas.width, canvas.height);
      context.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
      if (bitmap.close) { bitmap.close(); }
      return new Promise(function (resolve) {
        canvas.toBlob(function (blob) { resolve(blob && blob.size < file.size ? blob : file); }, "image/jpeg", 0.85);
      });
    }).catch(function () { return file; });
  }

  function uploadName(photo) {
    return photo.blob.type === "image/jpeg" ? photo.name.replace(/\.[^.]*$/, "") + ".jpg" : photo.name;
  }

  function renderPhotos(form) {
    var list = form.querySelector("#thumbs");
    var max = parseInt(form.dataset.maxPhotos, 10);
    list.innerHTML = "";
    photos.forEach(function (photo, index) {
      var item = document.createElement("li");
      var image = document.createElement("img");
      image.src = photo.url;
      image.alt = photo.name;
      var remove = document.createElement("button");
      remove.type = "button";
      remove.textContent = "×";
      remove.setAttribute("aria-label", interpolate(gettext("Remove photo %(name)s"), { name: photo.name }, true));
      remove.addEventListener("click", function () {
        URL.revokeObjectURL(photo.url);
        photos.splice(index, 1);
        renderPhotos(form);
      });
      item.appendChild(image);
      item.appendChild(remove);
      list.appendChild(item);
    });
    form.querySelector("#photo-count").textContent = photos.length
      ? interpolate(gettext("%(count)s of at most %(max)s photos"), { count: photos.length, max: max }, true)
      : "";
  }

  function addPhoto(form, file) {
    var max = parseInt(form.dataset.maxPhotos, 10);
    var status = form.querySelector("#photo-count");
    if (photos.length >= max) {
      status.textContent = interpolate(gettext("At most %(max)s photos."), { max: max }, true);
      return;
    }
    var photo = { name: file.name || "photo.jpg", blob: file, url: URL.createObjectURL(file) };
    photo.ready = shrink(file).then(function (blob) {
      if (blob.size > MAX_BYTES) {
        status.textContent = interpolate(gettext("Photo %(name)s is larger than 10 MB."), { name: photo.name }, true);
      }
      photo.blob = blob;
      return blob;
    });
    photos.push(photo);
  }

  function bindPhotos(form) {
    var rejected = JSON.parse(document.getElementById("rejected-photos").textContent || "[]");
    if (rejected.length) {
      photos = photos.filter(function (photo) { return rejected.indexOf(uploadName(photo)) < 0 && rejected.indexOf(photo.name) < 0; });
    }
    var lost = form.querySelector("[data-photos-lost]");
    if (lost && photos.length) { lost.hidden = true; }  // this script kept them
    form.querySelectorAll("input[type=file][name=photos]").forEach(function (input) {
      input.addEventListener("change", function () {
        Array.prototype.forEach.call(input.files, function (file) { addPhoto(form, file); });
        input.value = "";  // the list below is the selection; the same picture may be chosen again
        renderPhotos(form);
      });
    });
    renderPhotos(form);
  }

  /* --- Position -------------------------------------------------------------------------------------- */

  function locate() {
    var form = currentForm();
    var status = form.querySelector("#position-status");
    var again = form.querySelector("#locate");
    function show(state, text) { status.dataset.state = state; status.textContent = text; }
    if (!navigator.geolocation) {
      show("failed", gettext("This browser gives no position: enter it by hand below."));
      form.querySelector("#manual-position").open = true;
      return;
    }
    show("pending", gettext("Getting the position…"));
    again.hidden = true;
    navigator.geolocation.getCurrentPosition(function (position) {
      var target = currentForm();  // the form may have been re-rendered meanwhile
      target.elements.lat.value = position.coords.latitude.toFixed(6);
      target.elements.lon.value = position.coords.longitude.toFixed(6);
      target.elements.accuracy.value = Math.round(position.coords.accuracy);
      var line = target.querySelector("#position-status");
      line.dataset.state = "ok";
      line.textContent = interpolate(gettext("Position recorded (±%(metres)s m)"), { metres: Math.round(position.coords.accuracy) }, true);
      target.querySelector("#locate").hidden = false;
    }, function (error) {
      var target = currentForm();
      var line = target.querySelector("#position-status");
      line.dataset.state = "failed";
      line.textContent = error.code === 1
        ? gettext("Position not allowed: enter it by hand below, or allow location and try again.")
        : gettext("No position yet: enter it by hand below, or try again.");
      target.querySelector("#locate").hidden = false;
      target.querySelector("#manual-position").open = true;
    }, { enableHighAccuracy: true, timeout: 20000, maximumAge: 60000 });
  }

  function bindPosition(form) {
    form.querySelector("#locate").addEventListener("click", locate);
    if (form.elements.lat.value && form.elements.lon.value) {
      var status = form.querySelector("#position-status");
      status.dataset.state = "ok";
      form.querySelector("#locate").hidden = false;
      return;
    }
    locate();
  }

  /* --- Sending --------------------------------------------------------------------------------------- */

  function setBusy(form, busy, text) {
    var button = form.querySelector("#submit-button");
    var progress = form.querySelector("#send-progress");
    var status = form.querySelector("#send-status");
    if (!button.dataset.label) { button.dataset.label = button.textContent; }
    button.disabled = busy;
    button.textContent = busy ? gettext("Sending…") : button.dataset.label;
    progress.hidden = !busy;
    if (!busy) { progress.value = 0; }
    status.classList.remove("failed");
    status.textContent = text || "";
  }

  function failed(form, text) {
    sending = false;
    setBusy(form, false);
    var status = form.querySelector("#send-status");
    status.classList.add("failed");
    status.textContent = text;
  }

  function swapForm(form, html) {
    // The server re-rendered the form with its errors (and the same key): show it, keep the photos.
    var fresh = new DOMParser().parseFromString(html, "text/html");
    var freshForm = fresh.getElementById("check-form");
    if (!freshForm) { failed(form, gettext("Unexpected answer from the server: your answers are kept. Submit again.")); return; }
    form.parentNode.replaceChild(document.importNode(freshForm, true), form);
    sending = false;
    init(currentForm());
  }

  function send(form, data) {
    var doneUrl = new URL(form.dataset.doneUrl, window.location.href).href;
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.timeout = 5 * 60 * 1000;
    xhr.setRequestHeader("X-Requested-With", "XMLHttpRequest");
    xhr.upload.addEventListener("progress", function (event) {
      if (!event.lengthComputable) { return; }
      var percent = Math.round(100 * event.loaded / event.total);
      form.querySelector("#send-progress").value = percent;
      form.querySelector("#submit-button").textContent = gettext("Sending…") + " " + percent + "%";
    });
    xhr.addEventListener("load", function () {
      if (xhr.status >= 200 && xhr.status < 300 && xhr.responseURL === doneUrl) {
        window.location.assign(doneUrl);
      } else if (xhr.status === 422) {
        swapForm(form, xhr.responseText);
      } else if (xhr.status === 403) {
        failed(form, gettext("Only the officers assigned to this task can submit its result."));
      } else if (xhr.status >= 200 && xhr.status < 300) {
        failed(form, gettext("The server answered with another page (are you still logged in?): your answers are kept. Submit again."));
      } else {
        failed(form, interpolate(gettext("The server could not store the result (error %(status)s): your answers are kept. Submit again."),
          { status: xhr.status }, true));
      }
    });
    function offline() {
      failed(form, gettext("No connection: nothing is lost. Tap Submit again when you have signal — the result is stored only once."));
    }
    xhr.addEventListener("error", offline);
    xhr.addEventListener("timeout", offline);
    xhr.send(data);
  }

  function bindSubmit(form) {
    form.addEventListener("submit", function (event) {
      if (!window.FormData || !window.XMLHttpRequest || !window.Promise) { return; }  // the browser posts it itself
      event.preventDefault();
      if (sending) { return; }
      sending = true;
      setBusy(form, true, photos.length ? gettext("Preparing the photos…") : "");
      Promise.all(photos.map(function (photo) { return photo.ready; })).then(function () {
        var data = new FormData(form);
        data.delete("photos");
        photos.forEach(function (photo) { data.append("photos", photo.blob, uploadName(photo)); });
        setBusy(form, true, "");
        send(form, data);
      });
    });
  }

  function init(form) {
    if (!form) { return; }
    form.classList.add("js");
    var key = form.elements.submission_key;
    if (!key.value) { key.value = uuid4(); }
    bindItems(form);
    bindPhotos(form);
    bindPosition(form);
    bindSubmit(form);
    var firstError = form.querySelector(".error-summary");
    if (firstError) { firstError.scrollIntoView({ block: "start" }); firstError.focus({ preventScroll: true }); }
  }

  // Back to this page from the browser's cache: it must not stay stuck in "Sending…".
  window.addEventListener("pageshow", function (event) {
    var form = currentForm();
    if (event.persisted && form) { sending = false; setBusy(form, false); }
  });

  init(currentForm());
})();
