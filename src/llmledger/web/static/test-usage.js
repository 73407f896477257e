/*
 * /test_token_usage.html: simulate token usage for a user (POST api/test/simulate-tokens,
 * the admin token) and watch their meter move; "Refresh Usage" asks GET api/account/usage
 * for them (the admin token with X-User-Id). Shows the meter's numbers and the raw answer.
 * The token and user are kept by auth.js (this tab only), which the meter reads too.
 */
(function () {
  "use strict";

  var auth = window.llmledgerAuth;
  var STATS = [
    ["plan", "Plan"],
    ["month", "Month"],
    ["used", "Used"],
    ["limit", "Limit"],
    ["remaining", "Remaining"],
    ["addOn", "Add-on"],
    ["percent", "Percent used"],
  ];

  function byId(id) {
    return document.getElementById(id);
  }

  function number(value) {
    return typeof value === "number" ? value.toLocaleString("en-US") : value === null || value === undefined ? "—" : String(value);
  }

  function showStats(summary) {
    var list = byId("usage-stats");
    while (list.firstChild) {
      list.removeChild(list.firstChild);
    }
    STATS.forEach(function (pair) {
      var value = summary ? summary[pair[0]] : undefined;
      var box = document.createElement("div");
      var term = document.createElement("dt");
      var detail = document.createElement("dd");
      term.textContent = pair[1];
      detail.textContent = pair[0] === "percent" && typeof value === "number" ? value + "%" : number(value);
      detail.setAttribute("data-stat", pair[0]);
      box.appendChild(term);
      box.appendChild(detail);
      list.appendChild(box);
    });
  }

  function showRaw(what, status, text) {
    byId("raw-request").textContent = what + " → HTTP " + status;
    var shown = text;
    try {
      shown = JSON.stringify(JSON.parse(text), null, 2);
    } catch (error) {
      /* not JSON: as it came */
    }
    byId("raw-response").textContent = shown;
  }

  function showError(message) {
    var box = byId("simulate-error");
    box.hidden = !message;
    box.textContent = message || "";
  }

  function setStatus(text) {
    byId("simulate-status").textContent = text;
  }

  /* The fields' token and user, handed to auth.js (the meter follows them). */
  function useFields() {
    var token = byId("admin-token").value.trim();
    var user = byId("simulate-user").value.trim();
    if (token !== auth.token() || user !== auth.userId()) {
      auth.set(token, false, user); /* one change: the meter asks once, for this user */
    }
    return user;
  }

  function call(method, url, body) {
    var headers = auth.headers({ Accept: "application/json" });
    var init = { method: method, headers: headers, credentials: "same-origin" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return fetch(url, init).then(function (response) {
      return response.text().then(function (text) {
        var data = null;
        try {
          data = JSON.parse(text);
        } catch (error) {
          data = null;
        }
        return { status: response.status, ok: response.ok, text: text, data: data };
      });
    });
  }

  function failure(answer) {
    var error = answer.data && answer.data.error;
    return "HTTP " + answer.status + ": " + (error && error.message ? error.message : answer.text.slice(0, 200));
  }

  function refreshUsage() {
    var user = useFields();
    if (!auth.token() || !user) {
      showError("Give the admin token and the user first.");
      return Promise.resolve(null);
    }
    showError("");
    setStatus("Asking for " + user + "'s usage…");
    return call("GET", "api/account/usage").then(function (answer) {
      showRaw("GET /api/account/usage (X-User-Id: " + user + ")", answer.status, answer.text);
      if (!answer.ok) {
        showError(failure(answer));
        setStatus("");
        return null;
      }
      showStats(answer.data.summary);
      setStatus("Usage of " + user + " as of " + new Date().toLocaleTimeString() + ".");
      document.dispatchEvent(new CustomEvent("llmledger:usage-changed"));
      return answer.data.summary;
    }, networkError);
  }

  function simulate(event) {
    event.preventDefault();
    var user = useFields();
    var amount = Number(byId("simulate-amount").value);
    if (!Number.isInteger(amount) || amount < 1) {
      showError("The amount must be a whole number of tokens, 1 or more.");
      return;
    }
    showError("");
    setStatus("Simulating " + amount.toLocaleString("en-US") + " tokens for " + user + "…");
    byId("simulate-button").disabled = true;
    call("POST", "api/test/simulate-tokens", { tokens: amount, user_id: user })
      .then(function (answer) {
        showRaw("POST /api/test/simulate-tokens", answer.status, answer.text);
        if (!answer.ok) {
          showError(failure(answer));
          setStatus("");
          return;
        }
        showStats(answer.data.summary);
        setStatus(answer.data.message + " for " + user + ".");
        document.dispatchEvent(new CustomEvent("llmledger:usage-changed")); /* the meter asks again */
      }, networkError)
      .then(function () {
        byId("simulate-button").disabled = false;
      });
  }

  function networkError(error) {
    showError("Could not reach the gateway: " + error.message);
    setStatus("");
    return null;
  }

  function setupTheme() {
    var theme = window.llmledgerTheme;
    var current = theme ? theme.get() : "system";
    Array.prototype.forEach.call(document.querySelectorAll('input[name="theme"]'), function (input) {
      input.checked = input.value === current;
      input.addEventListener("change", function () {
        if (input.checked && theme) {
          theme.set(input.value);
        }
      });
    });
  }

  setupTheme();
  showStats(null);
  byId("admin-token").value = auth.token();
  byId("simulate-user").value = auth.userId();
  byId("simulate-form").addEventListener("submit", simulate);
  byId("refresh-button").addEventListener("click", refreshUsage);
  if (auth.token() && auth.userId()) {
    refreshUsage();
  }
})();
