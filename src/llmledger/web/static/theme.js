/* Runs in <head>, before the first paint: the remembered theme (light, dark or the system's). */
(function () {
  "use strict";
  var KEY = "llmledger-theme";
  var root = document.documentElement;
  var query = window.matchMedia ? window.matchMedia("(prefers-color-scheme: dark)") : null;

  function stored() {
    try {
      var value = window.localStorage.getItem(KEY);
      return value === "light" || value === "dark" ? value : "system";
    } catch (error) {
      return "system";
    }
  }

  function apply(choice) {
    var dark = choice === "dark" || (choice === "system" && query !== null && query.matches);
    root.setAttribute("data-theme", dark ? "dark" : "light");
    root.setAttribute("data-theme-choice", choice);
  }

  function set(choice) {
    try {
      window.localStorage.setItem(KEY, choice);
    } catch (error) {
      /* storage refused (private mode): the choice lasts this page */
    }
    apply(choice);
  }

  apply(stored());
  if (query !== null && query.addEventListener) {
    query.addEventListener("change", function () {
      apply(stored());
    });
  }
  window.llmledgerTheme = { get: stored, set: set };
})();
