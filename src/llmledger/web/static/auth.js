/*
 * Who the page says it is, on a gateway (`llmledger serve`): the usage API's credentials (a
 * ledger key, or the admin token), sent as `Authorization: Bearer …` by the dashboard's data
 * requests and the meter. Kept in this tab's sessionStorage, or in localStorage when the
 * reader asks to be remembered; never in a cookie, never in a URL. `userId` is the user the
 * admin token acts for (X-User-Id), as on the simulation page.
 *
 * window.llmledgerAuth: token(), userId(), set(token, remember[, user]), setUser(id), clear(),
 * headers(extra). Each change fires "llmledger:auth-changed" on document (once). role() is
 * what the server said the token is ("user", "admin"; "" until a page asked it, see app.js):
 * the meter asks for the usage of a user's token only, or of the user the admin names.
 */
(function () {
  "use strict";

  var TOKEN = "llmledger-token";
  var USER = "llmledger-user";

  function read(name) {
    try {
      return window.sessionStorage.getItem(name) || window.localStorage.getItem(name) || "";
    } catch (error) {
      return "";
    }
  }

  function write(name, value, remember) {
    try {
      window.sessionStorage.removeItem(name);
      window.localStorage.removeItem(name);
      if (value) {
        (remember ? window.localStorage : window.sessionStorage).setItem(name, value);
      }
    } catch (error) {
      /* storage refused (private mode): this page keeps it until it is closed */
    }
  }

  var state = { token: read(TOKEN), user: read(USER), role: "" };

  function changed() {
    document.dispatchEvent(new CustomEvent("llmledger:auth-changed"));
  }

  window.llmledgerAuth = {
    token: function () {
      return state.token;
    },
    userId: function () {
      return state.user;
    },
    role: function () {
      return state.role;
    },
    setRole: function (role) {
      state.role = role === "admin" || role === "user" ? role : "";
    },
    set: function (token, remember, user) {
      state.token = String(token || "").trim();
      state.role = "";
      write(TOKEN, state.token, Boolean(remember));
      if (user !== undefined) {
        state.user = String(user || "").trim();
        write(USER, state.user, false);
      }
      changed();
    },
    setUser: function (id) {
      state.user = String(id || "").trim();
      write(USER, state.user, false);
      changed();
    },
    clear: function () {
      state.token = "";
      state.user = "";
      state.role = "";
      write(TOKEN, "", false);
      write(USER, "", false);
      changed();
    },
    headers: function (extra) {
      var headers = Object.assign({}, extra || {});
      if (state.token) {
        headers.Authorization = "Bearer " + state.token;
      }
      if (state.user) {
        headers["X-User-Id"] = state.user;
      }
      return headers;
    },
  };
})();
