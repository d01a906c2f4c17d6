/* The phone's own data for the inspector's offline work, in IndexedDB (a small hand-written wrapper, no library).
   One database per user ("jqs-field-u<id>"): a shared phone never shows one inspector's data to another —
   the databases of other users are deleted when someone else logs in, and the user's own at logout.
   Stores: tasks (from /api/field/tasks/, by id), drafts (by task id: answers, notes, photos as Blobs, position,
   and the submission key fixed when the draft was created), outbox (by submission key), meta (refreshed_at…). */
(function () {
  "use strict";

  var PREFIX = "jqs-field-u";
  var STORES = ["tasks", "drafts", "outbox", "meta"];
  var opened = null;
  var wiped = false;  // this page's user's data deleted (logging out): nothing may open (and so recreate) it again

  function currentUser() {
    var meta = document.querySelector("meta[name=jqs-user]");
    return meta ? meta.content : (window.jqsShellUser || "");
  }

  /* The offline page names no user (the service worker keeps one copy for everyone): it reads the one field
     database left on the phone (those of other users are deleted at every login). */
  function findShellUser() {
    if (!window.indexedDB || !indexedDB.databases) { return Promise.resolve(""); }
    return indexedDB.databases().then(function (list) {
      var mine = list.filter(function (db) { return db.name && db.name.indexOf(PREFIX) === 0; });
      window.jqsShellUser = mine.length === 1 ? mine[0].name.slice(PREFIX.length) : "";
      return window.jqsShellUser;
    });
  }

  function request(req) {
    return new Promise(function (resolve, reject) {
      req.onsuccess = function () { resolve(req.result); };
      req.onerror = function () { reject(req.error); };
    });
  }

  function open() {
    var user = currentUser();
    if (!user || !window.indexedDB) { return Promise.reject(new Error("no user or no IndexedDB")); }
    if (wiped) { return Promise.reject(new Error("the field data of this phone was deleted")); }
    if (opened) { return opened; }
    var req = indexedDB.open(PREFIX + user, 1);
    req.onupgradeneeded = function () {
      STORES.forEach(function (name) {
        if (!req.result.objectStoreNames.contains(name)) { req.result.createObjectStore(name); }
      });
    };
    opened = request(req);
    return opened;
  }

  function run(store, mode, work) {
    return open().then(function (db) {
      return new Promise(function (resolve, reject) {
        var tx = db.transaction(store, mode);
        var result = work(tx.objectStore(store));
        tx.oncomplete = function () { resolve(result && "result" in result ? result.result : result); };
        tx.onerror = function () { reject(tx.error); };
        tx.onabort = function () { reject(tx.error); };
      });
    });
  }

  function get(store, key) { return run(store, "readonly", function (s) { return s.get(key); }); }
  function put(store, key, value) { return run(store, "readwrite", function (s) { s.put(value, key); }); }
  function del(store, key) { return run(store, "readwrite", function (s) { s.delete(key); }); }
  function all(store) { return run(store, "readonly", function (s) { return s.getAll(); }); }
  function replaceAll(store, entries) {
    return run(store, "readwrite", function (s) {
      s.clear();
      entries.forEach(function (entry) { s.put(entry[1], entry[0]); });
    });
  }

  /* Resolves once the database is gone — not when the deletion is merely blocked by a connection still open
     (it then completes as soon as that closes); after 5 s at the latest, so that logging out never hangs. */
  function deleteDatabase(name) {
    return new Promise(function (resolve) {
      var req = indexedDB.deleteDatabase(name);
      req.onsuccess = req.onerror = function () { resolve(); };
      setTimeout(resolve, 5000);
    });
  }

  /* Delete the phone's field data and cached pages of every user but `keep` ("" deletes all). */
  function wipeOthers(keep) {
    var jobs = [];
    if (window.indexedDB && indexedDB.databases) {
      jobs.push(indexedDB.databases().then(function (list) {
        return Promise.all(list.filter(function (db) {
          return db.name && db.name.indexOf(PREFIX) === 0 && db.name !== PREFIX + keep;
        }).map(function (db) {
          if (db.name === PREFIX + currentUser()) {
            wiped = true;
            if (opened) {
              var closing = opened.then(function (o) { o.close(); }, function () {});
              opened = null;
              return closing.then(function () { return deleteDatabase(db.name); });
            }
          }
          return deleteDatabase(db.name);
        }));
      }));
    }
    if (window.caches) {
      jobs.push(caches.keys().then(function (names) {
        return Promise.all(names.filter(function (name) {
          return name.indexOf("jqs-pages-u") === 0 && name !== "jqs-pages-u" + keep;
        }).map(function (name) { return caches.delete(name); }));
      }));
    }
    return Promise.all(jobs);
  }

  window.jqsStore = { user: currentUser, findShellUser: findShellUser, get: get, put: put, del: del, all: all, replaceAll: replaceAll, wipeOthers: wipeOthers };
})();
