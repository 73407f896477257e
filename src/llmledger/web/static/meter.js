/*
 * llmledger usage meter: fills #usage-meter-title, #usage-meter-percent, #usage-meter-fill and
 * #usage-meter-track from GET /api/account/usage ({"summary": {"month", "used", "limit",
 * "remaining", "percent", "addOn", "plan"}}).
 *
 * Live from the SSE stream /api/account/usage/stream when the server has one, polled every
 * 60 s otherwise; hidden while the usage API answers 404 (then no longer asked) or does not
 * know the caller (401/403: asked again at each poll). Embed it on any page:
 *
 *   <div id="usage-meter" hidden>
 *     <span id="usage-meter-title">Usage</span>
 *     <div id="usage-meter-track"><div id="usage-meter-fill"></div></div>
 *     <span id="usage-meter-percent"></span>
 *   </div>
 *   (and a script element: src="https://your-gateway/static/meter.js", defer)
 *
 * Options (attributes of the script tag): data-usage-url, data-stream-url (default: the
 * API beside the script), data-poll-seconds (60), data-credentials ("same-origin"; "include"
 * to send cookies to another origin). window.llmledgerMeter.refresh() (or the
 * "llmledger:usage-changed" event on document) fetches again, e.g. after a simulation.
 */
(function () {
  "use strict";

  var script = document.currentScript;
  var options = (script && script.dataset) || {};
  var base = script && script.src ? script.src : window.location.href;
  var usageUrl = options.usageUrl || new URL("../api/account/usage", base).href;
  var streamUrl = options.streamUrl || usageUrl.replace(/\/?$/, "/stream");
  var pollMs = Math.max(5, Number(options.pollSeconds) || 60) * 1000;
  var credentials = options.credentials || "same-origin";
  var WARN_AT = 80;

  var timer = null;
  var stream = null;
  var stopped = false;

  function byId(id) {
    return document.getElementById(id);
  }

  function root() {
    var track = byId("usage-meter-track");
    return byId("usage-meter") || (track && track.parentElement);
  }

  function amount(value, unit) {
    var number = Number(value) || 0;
    if (unit === "usd") {
      return "$" + number.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
    }
    return Math.round(number).toLocaleString("en-US");
  }

  function percentText(percent) {
    var rounded = Math.round(percent * 10) / 10;
    return (Number.isInteger(rounded) ? String(rounded) : rounded.toFixed(1)) + "% used";
  }

  function render(summary) {
    if (!summary || typeof summary !== "object") {
      return;
    }
    var percent = Math.max(0, Number(summary.percent) || 0);
    var unit = summary.unit === "usd" ? "usd" : "tokens";
    var state = percent > 100 ? "over" : percent >= WARN_AT ? "warn" : "ok";
    var tip =
      amount(summary.used, unit) + " / " + amount(summary.limit, unit) + (unit === "usd" ? "" : " tokens");
    if (Number(summary.addOn) > 0) {
      tip += " (including " + amount(summary.addOn, unit) + " add-on)";
    }
    if (summary.plan) {
      tip += " · plan " + summary.plan;
    }
    var title = byId("usage-meter-title");
    var text = byId("usage-meter-percent");
    var fill = byId("usage-meter-fill");
    var track = byId("usage-meter-track");
    var box = root();
    if (title && !title.textContent) {
      title.textContent = "Usage";
    }
    if (text) {
      text.textContent = percentText(percent);
    }
    if (fill) {
      fill.style.width = Math.min(percent, 100) + "%";
    }
    if (track) {
      track.title = tip;
      track.setAttribute("aria-valuenow", String(Math.min(percent, 100)));
      track.setAttribute("aria-valuetext", percentText(percent) + ": " + tip);
    }
    if (box) {
      box.title = tip;
      box.dataset.state = state;
      box.dataset.status = "ok";
      box.hidden = false;
    }
  }

  function hide(status) {
    var box = root();
    if (box) {
      box.hidden = true;
      box.dataset.status = status;
    }
  }

  function stop() {
    stopped = true;
    if (timer) {
      clearInterval(timer);
      timer = null;
    }
    if (stream) {
      stream.close();
      stream = null;
    }
  }

  function listen() {
    if (stream || stopped || typeof EventSource === "undefined") {
      return;
    }
    stream = new EventSource(streamUrl, { withCredentials: credentials === "include" });
    var onUpdate = function (event) {
      try {
        var body = JSON.parse(event.data);
        render(body && body.summary ? body.summary : body);
      } catch (error) {
        /* not a usage update: ignored */
      }
    };
    stream.onmessage = onUpdate;
    stream.addEventListener("usage", onUpdate);
    stream.onerror = function () {
      if (stream && stream.readyState === EventSource.CLOSED) {
        stream = null; /* no stream here: the poll carries on */
      }
    };
  }

  function refresh() {
    if (stopped) {
      return Promise.resolve(null);
    }
    return fetch(usageUrl, { credentials: credentials, headers: { Accept: "application/json" } })
      .then(function (response) {
        if (response.status === 404) {
          hide("missing"); /* no usage API on this server (yet) */
          stop();
          return null;
        }
        if (response.status === 401 || response.status === 403) {
          hide("unknown-caller"); /* not known (yet): asked again at the next poll */
          return null;
        }
        if (!response.ok) {
          return null; /* keep the last numbers; try again at the next poll */
        }
        return response.json().then(function (body) {
          var summary = body && body.summary;
          render(summary);
          listen();
          return summary || null;
        });
      })
      .catch(function () {
        return null;
      });
  }

  function poll() {
    if (!stream || stream.readyState !== EventSource.OPEN) {
      refresh();
    }
  }

  function start() {
    if (!byId("usage-meter-track") && !byId("usage-meter")) {
      return;
    }
    refresh();
    timer = setInterval(poll, pollMs);
  }

  document.addEventListener("llmledger:usage-changed", function () {
    refresh();
  });
  window.llmledgerMeter = { refresh: refresh, render: render, stop: stop };

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
