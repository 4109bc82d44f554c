// Loaded first: records script errors, failed loads and console errors into
// <body data-errors="[...]"> so a headless browser (and a curious user) can read them.
(function () {
  "use strict";
  var errors = [];
  window.dashboardErrors = errors;
  function publish() {
    if (document.body) document.body.setAttribute("data-errors", JSON.stringify(errors));
  }
  function record(message) {
    errors.push(String(message));
    publish();
  }
  window.recordDashboardError = record;
  window.addEventListener("DOMContentLoaded", publish);
  window.addEventListener("error", function (event) {
    var target = event.target;
    if (target && target !== window && (target.src || target.href)) {
      record("failed to load " + (target.src || target.href));
    } else {
      record(event.message || "script error");
    }
  }, true);
  window.addEventListener("unhandledrejection", function (event) {
    record("unhandled rejection: " + (event.reason && event.reason.message || event.reason));
  });
  var consoleError = console.error;
  console.error = function () {
    record(Array.prototype.map.call(arguments, String).join(" "));
    consoleError.apply(console, arguments);
  };
})();
