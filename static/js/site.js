/* What the templates ask for with data attributes instead of inline handlers, which the Content-Security-Policy
   forbids (common/csp.py): data-confirm on a form asks before it is sent, data-no-submit keeps a form of live
   controls from being sent, data-print prints the page, data-back goes back (its href is where it goes without). */
(function () {
  "use strict";
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.hasAttribute("data-no-submit")) {
      event.preventDefault();
    } else if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
    }
  });
  document.addEventListener("click", function (event) {
    var target = event.target.closest ? event.target.closest("[data-print], [data-back]") : null;
    if (!target) return;
    if (target.hasAttribute("data-print")) {
      event.preventDefault();
      window.print();
    } else if (window.history.length > 1) {
      event.preventDefault();
      window.history.back();
    }
  });
})();
