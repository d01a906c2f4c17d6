/* The inspector's offline-first field app, on every page of a logged-in user (needs field-store.js first):
   - registers the service worker (/sw.js: app shell and the field pages kept on the phone) and asks the browser
     to keep this site's storage (navigator.storage.persist);
   - keeps the user's open tasks (checklists, enterprise, product, officers) in IndexedDB, refreshed whenever
     online, and has the service worker keep their pages, so the task list and task pages open offline;
   - sends the outbox: each check's photos one request each, then the check (POST /api/field/…), on page
     load, on the `online` event, on a back-off timer and on "Send now"; an item leaves the outbox only when
     the server confirmed it (a conflict or a held check stays, explained, until the inspector dismisses it);
   - renders the task list and a task from IndexedDB on the offline page the service worker falls back to;
   - wipes the phone's field data at logout, and other users' data when someone else logs in. */
(function () {
  "use strict";

  var store = window.jqsStore;
  var gettext = window.gettext || function (s) { return s; };
  var interpolate = window.interpolate || function (f, o) { return f.replace(/%\((\w+)\)s/g, function (m, k) { return o[k]; }); };
  var PAGES_EVERY = 30 * 60 * 1000;  // re-fetch the task pages for offline use at most every 30 minutes
  var listeners = [];
  var busy = false;
  var attempts = 0;
  var timer = null;

  function csrfToken() {
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function text(tag, content, className) {
    var element = document.createElement(tag);
    if (content) { element.textContent = content; }
    if (className) { element.className = className; }
    return element;
  }

  /* --- Tasks kept on the phone ----------------------------------------------------------------------- */

  function refreshTasks() {
    if (!navigator.onLine || !store.user()) { return Promise.resolve(); }
    return fetch("/api/field/tasks/?page_size=500", { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error("tasks " + response.status); }
        return response.json();
      })
      .then(function (body) {
        var tasks = body.results || [];
        return store.replaceAll("tasks", tasks.map(function (task) { return [task.id, task]; }))
          .then(function () { return store.get("meta", "pages"); })
          .then(function (pages) {
            var ids = tasks.map(function (task) { return task.id; }).join(",");
            var now = Date.now();
            store.put("meta", "refreshed", now);
            if (pages && pages.ids === ids && now - pages.at < PAGES_EVERY) { return; }
            if (cachePages(tasks)) { return store.put("meta", "pages", { ids: ids, at: now }); }
          });
      })
      .catch(function (error) { console.warn("field: tasks not refreshed", error); });
  }

  function cachePages(tasks) {
    if (!navigator.serviceWorker || !navigator.serviceWorker.controller) { return false; }
    var urls = [];
    tasks.forEach(function (task) { urls.push(task.urls.detail, task.urls.check); });
    if (/^\/tasks\/\d+\/(check\/|done\/)?$/.test(window.location.pathname) && urls.indexOf(window.location.pathname) < 0) {
      urls.push(window.location.pathname);  // the page that installed the service worker was fetched before it
    }
    navigator.serviceWorker.controller.postMessage({ type: "cache-pages", urls: urls, user: store.user() });
    return true;
  }

  /* --- The outbox ------------------------------------------------------------------------------------ */

  function post(url, body, json) {
    var headers = { "X-CSRFToken": csrfToken(), Accept: "application/json" };
    if (json) { headers["Content-Type"] = "application/json"; }
    return fetch(url, { method: "POST", credentials: "same-origin", headers: headers, body: json ? JSON.stringify(body) : body })
      .then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (data) { return { status: response.status, data: data }; });
      });
  }

  function errorOf(answer) { return (answer.data && answer.data.error) || { code: "", message: "", details: {} }; }

  function settle(item, state, message, extra) {
    item.state = state;
    item.message = message || "";
    Object.keys(extra || {}).forEach(function (key) { item[key] = extra[key]; });
    return store.put("outbox", item.key, item);
  }

  /* One item: its photos not yet sent, then the check. Resolves to "done" or "stop"; rejects when offline. */
  function sendItem(item) {
    item.sentPhotos = item.sentPhotos || [];
    var photos = item.photos.filter(function (photo) { return item.sentPhotos.indexOf(photo.id) < 0; });
    var chain = Promise.resolve("next");
    photos.forEach(function (photo) {
      chain = chain.then(function (step) {
        if (step !== "next") { return step; }
        var data = new FormData();
        data.append("submission_key", item.key);
        data.append("photo_id", photo.id);
        data.append("image", photo.blob, photo.name || photo.id + ".jpg");
        return post("/api/field/photos/", data, false).then(function (answer) {
          if (answer.status === 200 || answer.status === 201) {
            item.sentPhotos.push(photo.id);
            return store.put("outbox", item.key, item).then(function () { return "next"; });
          }
          return refusal(item, answer);
        });
      });
    });
    return chain.then(function (step) {
      if (step !== "next") { return step; }
      return post("/api/field/checks/", item.body, true).then(function (answer) {
        if (answer.status === 200 || answer.status === 201) { return confirmed(item, answer.data); }
        if (answer.status === 409 && errorOf(answer).code === "photos_missing") {
          return settle(item, "waiting", errorOf(answer).message, { sentPhotos: [] }).then(function () { throw new Error("photos again"); });
        }
        return refusal(item, answer);
      });
    });
  }

  function refusal(item, answer) {
    var error = errorOf(answer);
    if (answer.status === 409 && error.code === "held") {
      return store.del("drafts", item.task).then(function () { return settle(item, "held", error.message); }).then(function () { return "stop"; });
    }
    if (answer.status === 409) { return settle(item, "conflict", error.message).then(function () { return "stop"; }); }
    if (answer.status === 400) {
      return settle(item, "refused", error.message, { errors: error.details || {} }).then(function () { return "stop"; });
    }
    if (answer.status === 401 || answer.status === 403) {
      return settle(item, "waiting", gettext("Log in again to send it.")).then(function () { throw new Error("login"); });
    }
    return settle(item, "waiting", interpolate(gettext("The server could not take it (error %(status)s): it will be sent again."),
      { status: answer.status }, true)).then(function () { throw new Error("server " + answer.status); });
  }

  function confirmed(item, data) {
    var note = data.yours === false
      ? interpolate(gettext("This task already had result %(number)s (sent from another phone): yours was not stored as a second one."),
        { number: data.number }, true)
      : "";
    return store.del("outbox", item.key)
      .then(function () { return store.del("drafts", item.task); })
      .then(function () { return store.put("meta", "confirmed-" + item.task, { number: data.number, note: note, at: Date.now() }); })
      .then(function () {
        listeners.forEach(function (listener) { listener(item, data, note); });
        return "done";
      });
  }

  function schedule() {
    if (timer) { clearTimeout(timer); }
    var delay = Math.min(5 * 60, 5 * Math.pow(2, attempts)) * 1000;
    attempts += 1;
    timer = setTimeout(function () { timer = null; sendAll(); }, delay);
  }

  function sendAll() {
    if (busy || !store.user()) { return Promise.resolve(); }
    busy = true;
    return store.all("outbox").then(function (items) {
      var waiting = items.filter(function (item) { return item.state === "waiting" || item.state === "sending"; });
      var chain = Promise.resolve();
      var offline = false;
      waiting.sort(function (a, b) { return a.created - b.created; }).forEach(function (item) {
        chain = chain.then(function () {
          if (offline) { return; }
          item.state = "sending";
          render();
          return sendItem(item).catch(function (error) {
            console.warn("field: not sent yet", item.key, error && error.message);
            offline = true;
            item.state = "waiting";
            if (!item.message && !(error instanceof Error && /server|login|photos/.test(error.message))) {
              item.message = gettext("No network: it will be sent when there is one.");
            }
            return store.put("outbox", item.key, item);
          });
        });
      });
      return chain.then(function () {
        if (offline) { schedule(); } else { attempts = 0; }
      });
    }).catch(function (error) { console.warn("field: outbox", error); })
      .then(function () { busy = false; render(); });
  }

  /* --- The outbox on the page ------------------------------------------------------------------------ */

  var STATE_LABELS = {
    waiting: gettext("waiting to be sent"),
    sending: gettext("sending…"),
    refused: gettext("refused: correct it"),
    conflict: gettext("conflict"),
    held: gettext("held for the supervisor"),
  };

  function render() {
    var box = document.getElementById("outbox");
    if (!box || !store.user()) { return Promise.resolve(); }
    return store.all("outbox").then(function (items) {
      box.hidden = items.length === 0;
      box.innerHTML = "";
      var head = text("div", "", "outbox-head");
      var pending = items.filter(function (item) { return item.state === "waiting" || item.state === "sending"; }).length;
      head.appendChild(text("h2", interpolate(gettext("Outbox (%(count)s)"), { count: items.length }, true)));
      if (pending) {
        var now = text("button", gettext("Send now"), "small");
        now.type = "button";
        now.id = "send-now";
        now.addEventListener("click", function () { attempts = 0; sendAll(); });
        head.appendChild(now);
      }
      box.appendChild(head);
      var list = text("ul", "", "outbox-list");
      items.forEach(function (item) {
        var row = text("li", "", "outbox-item state-" + item.state);
        row.dataset.key = item.key;
        row.dataset.state = item.state;
        row.appendChild(text("b", item.taskName || ("#" + item.task)));
        row.appendChild(text("span", " · " + (STATE_LABELS[item.state] || item.state), "outbox-state"));
        if (item.message) { row.appendChild(text("p", item.message, "outbox-message")); }
        if (item.state === "refused") {
          var fix = text("a", gettext("Open the form"), "button");
          fix.href = item.checkUrl;
          row.appendChild(fix);
        }
        if (item.state === "conflict" || item.state === "held") {
          var dismiss = text("button", item.state === "held" ? gettext("Understood") : gettext("Remove from this phone"), "small");
          dismiss.type = "button";
          dismiss.addEventListener("click", function () {
            if (item.state === "conflict" && !window.confirm(gettext("Remove this check from the phone? The stored result stays as it is."))) { return; }
            store.del("outbox", item.key).then(render);
          });
          row.appendChild(dismiss);
        }
        list.appendChild(row);
      });
      box.appendChild(list);
    }).catch(function () {});
  }

  /* --- The offline page: tasks from the phone -------------------------------------------------------- */

  function renderOffline(root) {
    var match = /^\/tasks\/(\d+)\//.exec(window.location.pathname);
    return Promise.all([store.all("tasks"), store.get("meta", "refreshed"), store.all("outbox")]).then(function (found) {
      var tasks = found[0], refreshed = found[1], outbox = found[2];
      root.innerHTML = "";
      var note = text("p", refreshed
        ? interpolate(gettext("No network: shown from this phone, as of %(when)s."), { when: new Date(refreshed).toLocaleString() }, true)
        : gettext("No network, and no tasks kept on this phone yet."), "offline-note");
      root.appendChild(note);
      if (match) {
        var task = tasks.filter(function (t) { return String(t.id) === match[1]; })[0];
        root.appendChild(task ? taskCard(task) : text("p", gettext("This task is not kept on this phone."), "empty"));
        var back = text("a", "← " + gettext("My tasks"));
        back.href = "/tasks/";
        var line = text("p", "", "back");
        line.appendChild(back);
        root.insertBefore(line, root.firstChild);
        return;
      }
      root.appendChild(text("h1", interpolate(gettext("My tasks (%(count)s)"), { count: tasks.length }, true), "page-title"));
      var list = text("ul", "", "task-list");
      list.id = "offline-tasks";
      tasks.forEach(function (task) {
        var sent = outbox.some(function (item) { return item.task === task.id; });
        var row = text("a", "", "task-row");
        row.href = task.urls.detail;
        row.appendChild(text("span", sent ? gettext("In outbox") : task.kind_label, "state state-todo"));
        var main = text("span", "", "task-main");
        main.appendChild(text("span", task.enterprise.name, "task-name"));
        main.appendChild(text("span", [task.enterprise.county, task.enterprise.town, task.product ? task.product.name : ""].join(" "), "task-meta"));
        row.appendChild(main);
        row.appendChild(text("span", task.due_date.slice(5), "task-due"));
        var item = document.createElement("li");
        item.appendChild(row);
        list.appendChild(item);
      });
      root.appendChild(list);
    });
  }

  function taskCard(task) {
    var card = text("section", "", "card");
    card.appendChild(text("p", task.kind_label, "task-kind"));
    card.appendChild(text("h1", task.enterprise.name));
    var facts = text("dl", "", "facts");
    [[gettext("Credit code"), task.enterprise.credit_code], [gettext("Address"), task.enterprise.address],
      [gettext("Product"), task.product ? task.product.name + (task.product.grade ? " (" + task.product.grade + ")" : "") : "—"],
      [gettext("Due"), task.due_date], [gettext("Why drawn"), task.reason],
      [gettext("Officers"), task.officers.map(function (o) { return o.name; }).join(" / ")]].forEach(function (pair) {
      facts.appendChild(text("dt", pair[0]));
      facts.appendChild(text("dd", pair[1] || "—"));
    });
    card.appendChild(facts);
    card.appendChild(text("h2", gettext("Check points")));
    var points = text("ol", "", "plain");
    task.checklist.forEach(function (item) { points.appendChild(text("li", item.text)); });
    card.appendChild(points);
    return card;
  }

  /* --- Logout and another user ----------------------------------------------------------------------- */

  function bindLogout() {
    var form = document.querySelector("form.logout");
    if (!form) { return; }
    form.addEventListener("submit", function (event) {
      if (form.dataset.wiped) { return; }
      event.preventDefault();
      store.all("outbox").catch(function () { return []; }).then(function (items) {
        var unsent = items.filter(function (item) { return item.state !== "held"; }).length;
        if (unsent && !window.confirm(interpolate(gettext("%(count)s checks are not sent yet: logging out deletes them from this phone. Log out anyway?"),
          { count: unsent }, true))) { return; }
        return store.wipeOthers("").then(function () {
          form.dataset.wiped = "1";
          form.submit();
        });
      });
    });
  }

  function start() {
    var user = store.user();
    bindLogout();
    if ("serviceWorker" in navigator && window.isSecureContext) {
      navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(function (error) { console.warn("field: no service worker", error); });
      // A first visit: once the new service worker controls this page, have it keep the field pages.
      navigator.serviceWorker.addEventListener("controllerchange", function () { refreshTasks(); });
    }
    var shell = document.getElementById("offline-app");
    if (shell) {
      store.findShellUser().then(function (found) {
        if (found) { return renderOffline(shell).then(render).catch(function (error) { console.warn("field: offline page", error); }); }
        shell.appendChild(text("p", gettext("No network, and no tasks kept on this phone yet."), "offline-note"));
      });
      return;
    }
    if (!user) { return; }
    if (navigator.storage && navigator.storage.persist) { navigator.storage.persist().catch(function () {}); }
    store.wipeOthers(user).then(function () {
      render();
      sendAll();
      refreshTasks();
    });
    window.addEventListener("online", function () { attempts = 0; sendAll(); refreshTasks(); });
  }

  window.jqsField = {
    sendAll: sendAll,
    render: render,
    onConfirmed: function (listener) { listeners.push(listener); },
    queue: function (item) {
      item.state = "waiting";
      item.message = "";
      item.created = item.created || Date.now();
      return store.put("outbox", item.key, item).then(function () { render(); attempts = 0; return sendAll(); });
    },
  };

  start();
})();
