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
 *
 * Who asks: cookies (e.g. `chat_user` behind a trusted proxy), or, on a page that also loads
 * /static/auth.js (the dashboard, the simulation page), its ledger key or admin token as
 * `Authorization: Bearer …`. EventSource cannot send that header, so then the stream is read
 * with fetch; a change of credentials ("llmledger:auth-changed") starts over.
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
  var stream = null; /* an EventSource, or {readyState, close} of a stream read with fetch */
  var stopped = false;
  var OPEN = 1;
  var CLOSED = 2;

  function auth() {
    return window.llmledgerAuth || null;
  }

  function headers(accept) {
    var base = { Accept: accept };
    return auth() ? auth().headers(base) : base;
  }

  function headerAuth() {
    return Boolean(auth() && auth().token());
  }

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

  function onUpdate(event) {
    try {
      var body = JSON.parse(event.data);
      render(body && body.summary ? body.summary : body);
    } catch (error) {
      /* not a usage update: ignored */
    }
  }

  function listen() {
    if (stream || stopped) {
      return;
    }
    if (headerAuth() || typeof EventSource === "undefined") {
      listenWithFetch();
      return;
    }
    var source = new EventSource(streamUrl, { withCredentials: credentials === "include" });
    stream = source;
    source.onmessage = onUpdate;
    source.addEventListener("usage", onUpdate);
    source.onerror = function () {
      if (stream === source && source.readyState === CLOSED) {
        stream = null; /* no stream here: the poll carries on */
      }
    };
  }

  /* Server-sent events over fetch (which can send the Authorization header): each event's
     "event:" and "data:" lines, "retry:" as the wait before reading again when it ends. */
  function listenWithFetch() {
    if (!window.fetch || !window.AbortController || !window.TextDecoder) {
      return;
    }
    var controller = new AbortController();
    var reading = { readyState: 0, close: function () {
      reading.readyState = CLOSED;
      controller.abort();
    } };
    stream = reading;
    var retryMs = 3000;
    var ended = function () {
      if (stream !== reading) {
        return;
      }
      stream = null;
      if (reading.readyState === OPEN && !stopped) {
        reading.readyState = CLOSED;
        setTimeout(listen, retryMs); /* the server ends a stream after a while: read again */
      }
    };
    fetch(streamUrl, { headers: headers("text/event-stream"), credentials: credentials, signal: controller.signal })
      .then(function (response) {
        if (!response.ok || !response.body) {
          reading.readyState = CLOSED; /* no stream for this caller: the poll carries on */
          ended();
          return null;
        }
        reading.readyState = OPEN;
        var reader = response.body.getReader();
        var decoder = new TextDecoder();
        var buffer = "";
        var pump = function () {
          return reader.read().then(function (chunk) {
            if (chunk.done) {
              ended();
              return null;
            }
            buffer += decoder.decode(chunk.value, { stream: true }).replace(/\r\n?/g, "\n");
            var at;
            while ((at = buffer.indexOf("\n\n")) >= 0) {
              var block = buffer.slice(0, at);
              buffer = buffer.slice(at + 2);
              var kind = "message";
              var data = [];
              block.split("\n").forEach(function (line) {
                var colon = line.indexOf(":");
                var field = colon < 0 ? line : line.slice(0, colon);
                var value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
                if (field === "event") {
                  kind = value;
                } else if (field === "data") {
                  data.push(value);
                } else if (field === "retry" && /^\d+$/.test(value)) {
                  retryMs = Number(value);
                }
              });
              if (data.length && (kind === "usage" || kind === "message")) {
                onUpdate({ data: data.join("\n") });
              }
            }
            return pump();
          });
        };
        return pump();
      })
      .catch(function () {
        ended();
      });
  }

  function restart() {
    if (stream) {
      var old = stream;
      stream = null;
      old.close();
    }
    return refresh();
  }

  /* A token the page has not checked yet, or the admin's naming no user: nothing to ask. */
  function nobodyToAsk() {
    var a = auth();
    return Boolean(a && a.token() && !a.userId() && a.role() !== "user");
  }

  function refresh() {
    if (stopped) {
      return Promise.resolve(null);
    }
    if (nobodyToAsk()) {
      hide(auth().role() === "admin" ? "admin" : "unchecked");
      return Promise.resolve(null);
    }
    return fetch(usageUrl, { credentials: credentials, headers: headers("application/json") })
      .then(function (response) {
        if (response.status === 404) {
          hide("missing"); /* no usage API on this server (yet) */
          stop();
          return null;
        }
        if (response.status === 401 || response.status === 403 || response.status === 400) {
          hide("unknown-caller"); /* not known (yet), or the admin naming no user */
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
    if (!stream || stream.readyState !== OPEN) {
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
  document.addEventListener("llmledger:auth-changed", restart);
  window.llmledgerMeter = { refresh: refresh, render: render, stop: stop, restart: restart };

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
