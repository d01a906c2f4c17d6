/* 检查表 on a phone. The form works without this script (posted as a page, checked by the server); with it:
   - the draft (answers, notes, conclusion, officers, date, position, photos) is saved to IndexedDB as it is
     typed (field-store.js) and comes back after a reload, a closed browser or a restarted phone; the
     submission key is fixed when the draft is created, never when it is sent;
   - photos are checked (JPEG, PNG or WebP) and shrunk on the phone before they are kept (long side 1600 px);
   - everything the phone can check is checked before sending, all at once, beside each field and named in
     the banner at the top;
   - Submit puts the check in the outbox (field.js), which sends it now or when the network returns; the
     page moves to the confirmation once the server has stored it. */
(function () {
  "use strict";

  var store = window.jqsStore;
  var field = window.jqsField;
  var gettext = window.gettext || function (s) { return s; };
  var interpolate = window.interpolate || function (f, o) { return f.replace(/%\((\w+)\)s/g, function (m, k) { return o[k]; }); };
  var MAX_SIDE = 1600;
  var MAX_BYTES = 10 * 1024 * 1024;
  var TYPES = ["image/jpeg", "image/png", "image/webp"];
  var form = document.getElementById("check-form");
  var draft = null;  // {key, task, values, photos: [{id, name, blob}], created}
  var urls = [];

  if (!form || !store || !field || !store.user() || !window.indexedDB || !window.Promise) { return; }  // the page posts itself

  var taskId = parseInt(form.dataset.task, 10);

  function randomId() {
    var bytes = window.crypto.getRandomValues(new Uint8Array(12));
    return Array.prototype.map.call(bytes, function (b) { return (b + 256).toString(16).slice(1); }).join("");
  }

  function items() { return Array.prototype.slice.call(form.querySelectorAll("fieldset.item")); }

  /* --- The draft ------------------------------------------------------------------------------------- */

  var SIMPLE = ["conclusion", "note", "co_inspector", "checked_on", "lat", "lon", "accuracy", "manual_lat", "manual_lon"];

  function read() {
    var values = { answers: {}, notes: {} };
    items().forEach(function (item) {
      var id = item.dataset.item;
      var checked = item.querySelector("input[type=radio]:checked");
      if (checked) { values.answers[id] = checked.value; }
      values.notes[id] = item.querySelector(".item-note").value;
    });
    SIMPLE.forEach(function (name) {
      var element = form.elements[name];
      if (!element) { return; }
      if (element instanceof RadioNodeList) {
        var chosen = form.querySelector("input[name=" + name + "]:checked");
        values[name] = chosen ? chosen.value : "";
      } else {
        values[name] = element.value;
      }
    });
    return values;
  }

  function write(values) {
    items().forEach(function (item) {
      var id = item.dataset.item;
      var answer = values.answers[id];
      var radio = answer && item.querySelector("input[type=radio][value=" + answer + "]");
      if (radio) { radio.checked = true; }
      item.querySelector(".item-note").value = values.notes[id] || "";
      var failed = answer === "nonconforming";
      item.classList.toggle("is-nc", failed);
      item.querySelector(".item-note").required = failed;
    });
    SIMPLE.forEach(function (name) {
      var element = form.elements[name];
      if (!element || values[name] === undefined) { return; }
      if (element instanceof RadioNodeList) {
        var radio = values[name] && form.querySelector("input[name=" + name + "][value=" + values[name] + "]");
        if (radio) { radio.checked = true; }
      } else {
        element.value = values[name];
      }
    });
    if (values.manual_lat || values.manual_lon) { form.querySelector("#manual-position").open = true; }
  }

  var saving = Promise.resolve();
  function save() {
    if (!draft) { return saving; }
    draft.values = read();
    draft.saved = Date.now();
    var copy = draft;
    saving = saving.then(function () { return store.put("drafts", taskId, copy); }).catch(function (error) {
      status(gettext("This phone could not save the draft: keep the page open and submit when you can."), true);
      console.warn("check: draft not saved", error);
    });
    return saving;
  }

  function loadDraft() {
    return store.get("drafts", taskId).then(function (kept) {
      if (kept) {
        draft = kept;
        form.elements.submission_key.value = kept.key;
        write(kept.values || {});
        return true;
      }
      // The key is fixed now, when the draft is created: a retry, a reload or a restart sends the same one.
      draft = { key: form.elements.submission_key.value || randomId(), task: taskId, values: read(), photos: [], created: Date.now() };
      form.elements.submission_key.value = draft.key;
      return store.put("drafts", taskId, draft).then(function () { return false; });
    });
  }

  /* --- Check points and conclusion ------------------------------------------------------------------- */

  function bindItems() {
    form.querySelectorAll("input[name=conclusion]").forEach(function (radio) {
      radio.addEventListener("change", function () { draft.conclusionTouched = true; });
    });
    function suggestConclusion() {
      if (draft.conclusionTouched) { return; }
      var failed = form.querySelector("fieldset.item input[value=nonconforming]:checked");
      var answered = form.querySelectorAll("fieldset.item input[type=radio]:checked").length;
      var value = failed ? "nonconforming" : (answered === items().length ? "conforming" : null);
      var radio = value && form.querySelector("input[name=conclusion][value=" + value + "]");
      if (radio) { radio.checked = true; }
    }
    items().forEach(function (item) {
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
    form.addEventListener("input", save);
    form.addEventListener("change", function (event) { if (event.target.type !== "file") { save(); } });
  }

  /* --- Photos ---------------------------------------------------------------------------------------- */

  function shrink(file) {
    // Shrunk on the phone so a weak network carries ~300 kB, not 5 MB. A file the browser cannot decode is
    // not a photo: refused here, not after the upload.
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
    });
  }

  function photoProblems() { return form.querySelector("#photo-problems"); }

  function renderPhotos() {
    var list = form.querySelector("#thumbs");
    var max = parseInt(form.dataset.maxPhotos, 10);
    urls.forEach(function (url) { URL.revokeObjectURL(url); });
    urls = [];
    list.innerHTML = "";
    draft.photos.forEach(function (photo, index) {
      var item = document.createElement("li");
      var image = document.createElement("img");
      var url = URL.createObjectURL(photo.blob);
      urls.push(url);
      image.src = url;
      image.alt = photo.name;
      var remove = document.createElement("button");
      remove.type = "button";
      remove.textContent = "×";
      remove.setAttribute("aria-label", interpolate(gettext("Remove photo %(name)s"), { name: photo.name }, true));
      remove.addEventListener("click", function () {
        draft.photos.splice(index, 1);
        save();
        renderPhotos();
      });
      item.appendChild(image);
      item.appendChild(remove);
      list.appendChild(item);
    });
    form.querySelector("#photo-count").textContent = draft.photos.length
      ? interpolate(gettext("%(count)s of at most %(max)s photos, kept on this phone"), { count: draft.photos.length, max: max }, true)
      : "";
  }

  function addPhotos(files) {
    var max = parseInt(form.dataset.maxPhotos, 10);
    var problems = [];
    var jobs = Array.prototype.map.call(files, function (file) {
      var name = file.name || "photo.jpg";
      if (TYPES.indexOf(file.type) < 0) {
        problems.push(interpolate(gettext("Photo %(name)s: not a JPEG, PNG or WebP image."), { name: name }, true));
        return Promise.resolve();
      }
      return shrink(file).then(function (blob) {
        if (blob.size > MAX_BYTES) {
          problems.push(interpolate(gettext("Photo %(name)s is larger than 10 MB."), { name: name }, true));
        } else if (draft.photos.length >= max) {
          problems.push(interpolate(gettext("At most %(max)s photos."), { max: max }, true));
        } else {
          draft.photos.push({ id: randomId(), name: name.replace(/\.[^.]*$/, "") + (blob.type === "image/jpeg" ? ".jpg" : ""), blob: blob });
        }
      }, function () {
        problems.push(interpolate(gettext("Photo %(name)s: not a JPEG, PNG or WebP image."), { name: name }, true));
      });
    });
    return Promise.all(jobs).then(function () {
      showPhotoProblems(problems);
      renderPhotos();
      return save();
    });
  }

  function showPhotoProblems(problems) {
    var box = photoProblems();
    box.innerHTML = "";
    problems.forEach(function (problem) {
      var line = document.createElement("p");
      line.className = "field-error";
      line.textContent = problem;
      box.appendChild(line);
    });
    form.querySelector("#photos").classList.toggle("has-error", problems.length > 0);
  }

  function bindPhotos() {
    form.querySelectorAll("input[type=file][name=photos]").forEach(function (input) {
      input.addEventListener("change", function () {
        var files = Array.prototype.slice.call(input.files);
        input.value = "";  // the list below is the selection; the same picture may be chosen again
        addPhotos(files);
      });
    });
    renderPhotos();
  }

  /* --- Position -------------------------------------------------------------------------------------- */

  function locate() {
    var line = form.querySelector("#position-status");
    var again = form.querySelector("#locate");
    function show(state, text) { line.dataset.state = state; line.textContent = text; }
    if (!navigator.geolocation) {
      show("failed", gettext("This browser gives no position: enter it by hand below."));
      form.querySelector("#manual-position").open = true;
      return;
    }
    show("pending", gettext("Getting the position…"));
    again.hidden = true;
    navigator.geolocation.getCurrentPosition(function (position) {
      form.elements.lat.value = position.coords.latitude.toFixed(6);
      form.elements.lon.value = position.coords.longitude.toFixed(6);
      form.elements.accuracy.value = Math.round(position.coords.accuracy);
      show("ok", interpolate(gettext("Position recorded (±%(metres)s m)"), { metres: Math.round(position.coords.accuracy) }, true));
      again.hidden = false;
      save();
    }, function (error) {
      show("failed", error.code === 1
        ? gettext("Position not allowed: enter it by hand below, or allow location and try again.")
        : gettext("No position yet: enter it by hand below, or try again."));
      again.hidden = false;
      form.querySelector("#manual-position").open = true;
    }, { enableHighAccuracy: true, timeout: 20000, maximumAge: 60000 });
  }

  function bindPosition() {
    form.querySelector("#locate").addEventListener("click", locate);
    if (form.elements.lat.value && form.elements.lon.value) {
      var line = form.querySelector("#position-status");
      line.dataset.state = "ok";
      line.textContent = gettext("Position recorded");
      form.querySelector("#locate").hidden = false;
      return;
    }
    locate();
  }

  /* --- Checking before sending, all at once ---------------------------------------------------------- */

  function fieldLabel(name) {
    var match = /^(item|note)_(\d+)$/.exec(name);
    if (match) {
      var item = form.querySelector("#item-" + match[2]);
      var number = item ? item.querySelector(".num").textContent.replace(".", "") : match[2];
      return match[1] === "item"
        ? interpolate(gettext("check point %(number)s"), { number: number }, true)
        : interpolate(gettext("note of check point %(number)s"), { number: number }, true);
    }
    return {
      conclusion: gettext("conclusion"), note: gettext("note"), co_inspector: gettext("co-inspector"),
      checked_on: gettext("date of the check"), photos: gettext("photos"), manual_lat: gettext("position"), manual_lon: gettext("position"),
    }[name] || "";
  }

  function anchorOf(name) {
    var match = /^(item|note)_(\d+)$/.exec(name);
    if (match) { return "item-" + match[2]; }
    return { conclusion: "conclusion", note: "conclusion", photos: "photos", co_inspector: "officers", checked_on: "officers",
      manual_lat: "position", manual_lon: "position" }[name] || "";
  }

  function validate(values) {
    var errors = {};
    function add(name, message) { (errors[name] = errors[name] || []).push(message); }
    var anyFailed = false;
    items().forEach(function (item) {
      var id = item.dataset.item;
      var outcome = values.answers[id];
      var note = (values.notes[id] || "").trim();
      if (!outcome) { add("item_" + id, gettext("Answer this check point.")); }
      if (outcome === "nonconforming") {
        anyFailed = true;
        if (!note) { add("note_" + id, gettext("Say what does not conform.")); }
      }
      if (note.length > 500) { add("note_" + id, gettext("At most 500 characters.")); }
    });
    if (!values.conclusion) {
      add("conclusion", gettext("Choose the conclusion."));
    } else if (anyFailed !== (values.conclusion === "nonconforming") && !values.note.trim()) {
      add("note", anyFailed
        ? gettext("The conclusion differs from the check points: say why in this note.")
        : gettext("A non-conforming conclusion with every check point conforming: say what does not conform in this note."));
    }
    if (form.elements.co_inspector && !values.co_inspector) { add("co_inspector", gettext("Name the officer who inspected with you.")); }
    if (!values.checked_on) {
      add("checked_on", gettext("Give the date of the check."));
    } else if (values.checked_on > form.dataset.today) {
      add("checked_on", gettext("The date of the check cannot be in the future."));
    }
    if ((values.manual_lat === "") !== (values.manual_lon === "")) {
      add(values.manual_lat === "" ? "manual_lat" : "manual_lon", gettext("Give both latitude and longitude."));
    }
    return errors;
  }

  function clearErrors() {
    form.querySelectorAll(".js-error").forEach(function (element) { element.remove(); });
    form.querySelectorAll(".has-error").forEach(function (element) { element.classList.remove("has-error"); });
    var banner = document.getElementById("error-summary-js");
    if (banner) { banner.remove(); }
  }

  function showErrors(errors, general) {
    clearErrors();
    var names = Object.keys(errors);
    if (!names.length && !general) { return; }
    var banner = document.createElement("div");
    banner.id = "error-summary-js";
    banner.className = "error error-summary js-error";
    banner.setAttribute("role", "alert");
    banner.tabIndex = -1;
    var lead = document.createElement("p");
    lead.textContent = general || gettext("Not sent yet: correct these and submit again. Nothing you typed is lost.");
    banner.appendChild(lead);
    var list = document.createElement("ul");
    var seen = {};
    names.forEach(function (name) {
      var anchor = anchorOf(name);
      var label = fieldLabel(name);
      errors[name].forEach(function (message) {
        var key = label + message;
        if (seen[key]) { return; }
        seen[key] = true;
        var line = document.createElement("li");
        if (anchor && label) {
          var link = document.createElement("a");
          link.href = "#" + anchor;
          link.textContent = label;
          line.appendChild(link);
          line.appendChild(document.createTextNode(": " + message));
        } else {
          line.textContent = message;
        }
        list.appendChild(line);
      });
      placeBeside(name, errors[name]);
    });
    banner.appendChild(list);
    form.insertBefore(banner, form.firstChild.nextSibling);
    banner.scrollIntoView({ block: "start" });
    banner.focus({ preventScroll: true });
  }

  function placeBeside(name, messages) {
    var match = /^(item|note)_(\d+)$/.exec(name);
    var after = null, box = null;
    if (match) {
      box = form.querySelector("#item-" + match[2]);
      after = match[1] === "item" ? box.querySelector(".opts") : box.querySelector(".item-note");
    } else if (name === "conclusion") {
      box = form.querySelector("#conclusion"); after = box.querySelector(".opts");
    } else if (name === "note") {
      box = form.querySelector("#conclusion"); after = form.elements.note;
    } else if (name === "photos") {
      box = form.querySelector("#photos"); after = photoProblems();
    } else if (form.elements[name]) {
      after = form.elements[name]; box = after.closest("fieldset");
    }
    if (!after) { return; }
    if (box) { box.classList.add("has-error"); }
    messages.slice().reverse().forEach(function (message) {
      var line = document.createElement("p");
      line.className = "field-error js-error";
      line.textContent = message;
      after.parentNode.insertBefore(line, after.nextSibling);
    });
  }

  /* --- Sending through the outbox -------------------------------------------------------------------- */

  function status(text, bad) {
    var line = form.querySelector("#send-status");
    line.textContent = text || "";
    line.classList.toggle("failed", !!bad);
  }

  function body(values) {
    var manual = values.manual_lat !== "" && values.manual_lon !== "";
    var number = function (value) { return value === "" || value === undefined ? null : parseFloat(value); };
    return {
      submission_key: draft.key,
      task: taskId,
      conclusion: values.conclusion,
      items: items().map(function (item) {
        var id = item.dataset.item;
        return { item: parseInt(id, 10), outcome: values.answers[id], note: (values.notes[id] || "").trim() };
      }),
      co_inspector: values.co_inspector ? parseInt(values.co_inspector, 10) : null,
      checked_on: values.checked_on,
      lat: manual ? number(values.manual_lat) : number(values.lat),
      lon: manual ? number(values.manual_lon) : number(values.lon),
      accuracy: manual ? null : number(values.accuracy),
      position_source: manual ? "manual" : (values.lat && values.lon ? "gps" : ""),
      note: values.note,
      photos: draft.photos.map(function (photo) { return photo.id; }),
    };
  }

  function showOutboxState() {
    return store.get("outbox", draft.key).then(function (item) {
      if (!item) { return; }
      if (item.state === "refused") {
        showErrors(item.errors || {}, item.message);
      } else if (item.state === "conflict" || item.state === "held") {
        status(item.message, true);
      } else {
        status(item.message || gettext("Saved on this phone, in the outbox: it is sent as soon as there is a network."));
      }
    });
  }

  function bindSubmit() {
    var button = form.querySelector("#submit-button");
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (button.disabled) { return; }
      var values = read();
      var errors = validate(values);
      if (Object.keys(errors).length) { showErrors(errors); return; }
      clearErrors();
      button.disabled = true;
      status(gettext("Sending…"));
      save().then(function () {
        return field.queue({
          key: draft.key,
          task: taskId,
          taskName: form.dataset.taskName,
          checkUrl: window.location.pathname,
          doneUrl: form.dataset.doneUrl,
          body: body(values),
          photos: draft.photos.slice(),
        });
      }).then(showOutboxState).then(function () { button.disabled = false; });
    });
    field.onConfirmed(function (item) {
      if (item.key === draft.key) {
        status(gettext("Stored: opening the confirmation…"));
        window.location.assign(item.doneUrl);
      }
    });
  }

  function init() {
    form.classList.add("js");
    form.noValidate = true;  // checked here, all at once, rather than one browser bubble at a time
    return store.get("meta", "confirmed-" + taskId).then(function (done) {
      if (done) {  // an old copy of the form (the back button, the offline copy): its check is stored already
        if (navigator.onLine !== false) { window.location.replace(form.dataset.doneUrl); }
        status(interpolate(gettext("Already stored as result %(number)s."), { number: done.number }, true));
        form.querySelector("#submit-button").disabled = true;
      }
      return loadDraft();
    }).then(function (restored) {
      bindItems();
      bindPhotos();
      bindPosition();
      bindSubmit();
      form.dataset.draft = restored ? "restored" : "new";
      return showOutboxState();
    }).catch(function (error) {
      console.warn("check: no draft storage", error);
    });
  }

  window.addEventListener("pageshow", function (event) {
    if (event.persisted) { form.querySelector("#submit-button").disabled = false; }
  });

  init();
})();
