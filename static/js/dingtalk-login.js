/* 免登: inside DingTalk (its user agent says "DingTalk"), ask DingTalk's JSAPI for an auth code with the bureau's
   corp id and post it to the server, which exchanges it for the member's userid and logs the mapped staff account
   in (inspections/dingtalk_views.py). Outside DingTalk nothing is loaded and the password login is offered.
   The JSAPI is the vendored dingtalk-jsapi (static/vendor/dingtalk-jsapi), loaded only when needed. */
(function () {
  "use strict";
  var root = document.getElementById("dingtalk-login");
  if (!root) return;
  var status = document.getElementById("dingtalk-status");
  var form = document.getElementById("dingtalk-form");
  var retry = document.getElementById("dingtalk-retry");
  var corpId = root.getAttribute("data-corp-id");

  function say(text) { status.textContent = text; }

  function reason(error) {
    if (!error) return "";
    return " " + (error.errorMessage || error.message || (typeof error === "string" ? error : JSON.stringify(error)));
  }

  function ask() {
    say(root.getAttribute("data-working"));
    retry.hidden = true;
    // runtime.permission.requestAuthCode({corpId}) → {code}: valid 5 minutes, used once (DingTalk JSAPI).
    Promise.resolve(window.dd.runtime.permission.requestAuthCode({ corpId: corpId })).then(function (result) {
      if (!result || !result.code) throw new Error("");
      form.elements.code.value = result.code;
      form.submit();
    }).catch(function (error) {
      say(root.getAttribute("data-failed") + reason(error));
      retry.hidden = false;
    });
  }

  function load() {
    if (window.dd && window.dd.runtime) return ask();
    var script = document.createElement("script");
    script.src = root.getAttribute("data-jsapi");
    script.onload = ask;
    script.onerror = function () { say(root.getAttribute("data-failed")); retry.hidden = false; };
    document.head.appendChild(script);
  }

  if (!/DingTalk/i.test(navigator.userAgent)) { say(root.getAttribute("data-outside")); return; }
  if (!corpId) return; // not set up for this bureau: the page says so
  retry.addEventListener("click", load);
  if (root.hasAttribute("data-refused")) { retry.hidden = false; return; } // refused: no loop, the user decides
  load();
})();
