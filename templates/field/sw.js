/* The field app's service worker (served by Django at /sw.js, scope /; see static/js/field.js).
   - The app shell (styles, scripts, the translation catalogue, the offline page) is kept per version.
   - The inspector's pages (/tasks/, a task, its check form, its confirmation) are fetched from the network
     when there is one and kept in the cache of the user the server named (X-JQS-User); with no network they
     come from that cache — the task list always from the phone's IndexedDB, through the offline page.
   - Only one user's pages are ever kept: a response for another user deletes the others' caches, and
     field.js deletes them all at logout. Nothing else (the API, the admin, the map) is touched. */
"use strict";

var VERSION = "{{ version }}";
var SHELL = "jqs-shell-" + VERSION;
var SHELL_URLS = {{ shell_urls|safe }};
var OFFLINE_URL = "{{ offline_url }}";
var CATALOGUE_URL = "{{ catalogue_url }}";
var FIELD_PAGE = /^\/tasks\/(\d+\/((check|done)\/)?)?$/;
var PAGES = "jqs-pages-u";

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(SHELL).then(function (cache) { return cache.addAll(SHELL_URLS); }).then(function () { return self.skipWaiting(); }));
});

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (names) {
    return Promise.all(names.filter(function (name) { return name.indexOf("jqs-shell-") === 0 && name !== SHELL; })
      .map(function (name) { return caches.delete(name); }));
  }).then(function () { return self.clients.claim(); }));
});

function keepOnly(user) {
  return caches.keys().then(function (names) {
    return Promise.all(names.filter(function (name) { return name.indexOf(PAGES) === 0 && name !== PAGES + user; })
      .map(function (name) { return caches.delete(name); }));
  });
}

function keep(request, response) {
  var user = response.headers.get("X-JQS-User");
  if (!response.ok || response.redirected || !user) { return Promise.resolve(); }
  return keepOnly(user).then(function () { return caches.open(PAGES + user); })
    .then(function (cache) { return cache.put(request, response); });
}

function fromPages(url) {
  return caches.keys().then(function (names) {
    var mine = names.filter(function (name) { return name.indexOf(PAGES) === 0; });
    if (mine.length !== 1) { return undefined; }
    return caches.open(mine[0]).then(function (cache) { return cache.match(url, { ignoreVary: true }); });
  });
}

function offlinePage() {
  return caches.match(OFFLINE_URL, { ignoreVary: true }).then(function (page) {
    return page || new Response("offline", { status: 503, headers: { "Content-Type": "text/plain; charset=utf-8" } });
  });
}

function page(request) {
  var url = new URL(request.url);
  return fetch(request).then(function (response) {
    var copy = response.clone();
    return keep(request, copy).catch(function () {}).then(function () { return response; });
  }).catch(function () {
    if (url.pathname === "/tasks/") { return offlinePage(); }  // the list from IndexedDB, outbox states included
    return fromPages(request.url).then(function (kept) { return kept || offlinePage(); });
  });
}

function shellFirst(request) {
  return caches.open(SHELL).then(function (cache) {
    return cache.match(request, { ignoreVary: true }).then(function (kept) {
      var fresh = fetch(request).then(function (response) {
        if (response.ok) { cache.put(request, response.clone()); }
        return response;
      });
      if (kept) { fresh.catch(function () {}); return kept; }
      return fresh;
    });
  });
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") { return; }
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) { return; }
  if (request.mode === "navigate" && FIELD_PAGE.test(url.pathname)) {
    event.respondWith(page(request));
  } else if (url.pathname === CATALOGUE_URL) {
    // The catalogue follows the language chosen: from the network when there is one.
    event.respondWith(fetch(request).then(function (response) {
      var copy = response.clone();
      caches.open(SHELL).then(function (cache) { cache.put(request, copy); });
      return response;
    }).catch(function () { return caches.match(request, { ignoreVary: true }); }));
  } else if (SHELL_URLS.indexOf(url.pathname) >= 0) {
    event.respondWith(shellFirst(request));
  }
});

self.addEventListener("message", function (event) {
  var data = event.data || {};
  if (data.type === "cache-pages" && data.user) {
    event.waitUntil(caches.open(PAGES + data.user).then(function (cache) {
      return Promise.all(data.urls.map(function (url) {
        return fetch(url, { credentials: "same-origin" }).then(function (response) {
          if (response.ok && !response.redirected && response.headers.get("X-JQS-User") === String(data.user)) {
            return cache.put(url, response);
          }
        }).catch(function () {});
      }));
    }));
  }
});
