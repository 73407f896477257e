/*
 * The coding agents' official usage-limit windows (api/dashboard/limit-windows, as
 * `llmledger quota` shows them): each agent's latest reading of each window, its reset time in
 * the page's time zone, and the forecast of when the current pace reaches 100 % (an estimate,
 * and said to be one). An agent active without an official reading gets an estimate row
 * (`official: false`): its current 5-hour block against its largest, labelled "estimate" and
 * drawn apart (a hatched meter). Hidden when there is neither; on a gateway, shown to the
 * admin token only (they are the operator's machine's agents).
 */
(function (ns) {
  "use strict";

  var page = ns.page;
  var byId = page.byId;
  var operators = ns.panels.operators;
  var WEEKDAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
  var MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

  /* "2026-12-07T20:30:00+01:00" (already in the page's zone) -> "Mon 7 Dec 20:30". */
  function localText(iso) {
    var parts = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(iso || "");
    if (!parts) {
      return "";
    }
    var day = new Date(Date.UTC(Number(parts[1]), Number(parts[2]) - 1, Number(parts[3])));
    return WEEKDAYS[day.getUTCDay()] + " " + Number(parts[3]) + " " + MONTHS[day.getUTCMonth()] + " " + parts[4] + ":" + parts[5];
  }

  function untilText(iso, now) {
    var left = (Date.parse(iso) - now) / 3600000;
    if (!(left > 0)) {
      return "";
    }
    return " (in " + (left < 48 ? Math.round(left) + "h" : Math.round(left / 24) + "d") + ")";
  }

  function lengthText(minutes) {
    if (minutes === null || minutes === undefined) {
      return "";
    }
    if (minutes >= 1440 && Math.abs(minutes - Math.round(minutes / 1440) * 1440) <= 1) {
      return Math.round(minutes / 1440) + " d";
    }
    return minutes % 60 === 0 || minutes % 60 === 59 ? Math.round(minutes / 60) + " h" : minutes + " min";
  }

  function forecastText(row) {
    var forecast = row.forecast || {};
    if (row.stale) {
      return "reset since";
    }
    if (forecast.reaches100AtLocal) {
      return "100% at " + localText(forecast.reaches100AtLocal);
    }
    if (forecast.percentAtReset !== null && forecast.percentAtReset !== undefined) {
      return "~" + Math.round(forecast.percentAtReset) + "% at reset";
    }
    return "—";
  }

  function projectedText(row) {
    var projected = row.projectedPercentOfLargest;
    return projected === null || projected === undefined ? "—" : "~" + Math.round(projected) + "% of largest by block end";
  }

  /* An estimate row: the current block's share of the agent's largest (or its tokens). */
  function estimateRow(e, now) {
    var known = e.percentOfLargest !== null && e.percentOfLargest !== undefined;
    var percent = known ? Math.max(0, Number(e.percentOfLargest) || 0) : null;
    return {
      rowClass: "limits-estimate" + (known ? " state-" + operators.meterState(percent) : ""),
      official: false,
      kind: "estimate",
      agent: e.title,
      source: e.source,
      window: e.label,
      usedPercent: percent,
      tokens: e.tokens,
      windowMinutes: 300,
      resetsAt: e.blockEndLocal ? localText(e.blockEndLocal) + untilText(e.blockEnd, now) : "—",
      resetsAtIso: e.blockEnd,
      forecast: projectedText(e),
      reaches100At: null,
      observedAt: null,
    };
  }

  function usedCell(value, row) {
    if (row.usedPercent === null) {
      return ns.dom.el("span", { class: "limits-tokens" }, Number(row.tokens).toLocaleString("en-US") + " tok");
    }
    var tip =
      row.kind === "estimate"
        ? operators.percentText(row.usedPercent) + " of this agent's largest 5-hour block (an estimate)"
        : operators.percentText(row.usedPercent) + " of the " + row.window + " window used";
    var cell = operators.meterCell(row.usedPercent, tip);
    cell.appendChild(ns.dom.el("span", { class: "usage-meter-percent" }, operators.percentText(row.usedPercent)));
    return cell;
  }

  function windowCell(value, row) {
    if (row.kind !== "estimate") {
      return value;
    }
    var cell = ns.dom.el("span", null, value + " ");
    cell.appendChild(ns.dom.el("span", { class: "badge limits-estimate-badge", title: "No official figure: estimated from the ledger" }, "estimate"));
    return cell;
  }

  var shown = [];

  function render(body) {
    var now = Date.parse(body.now) || Date.now();
    shown = (body.windows || []).map(function (w) {
      var percent = Math.max(0, Number(w.usedPercent) || 0);
      return {
        rowClass: "state-" + operators.meterState(percent),
        official: true,
        kind: "official",
        agent: w.title + (w.limitId ? " (" + w.limitId + ")" : ""),
        source: w.source,
        window: w.label,
        usedPercent: percent,
        windowMinutes: w.windowMinutes,
        resetsAt: w.resetsAtLocal ? localText(w.resetsAtLocal) + (w.stale ? "" : untilText(w.resetsAt, now)) : "—",
        resetsAtIso: w.resetsAt,
        forecast: forecastText(w),
        reaches100At: (w.forecast || {}).reaches100At || null,
        observedAt: w.observedAt,
      };
    });
    (body.estimates || []).forEach(function (e) {
      shown.push(estimateRow(e, now));
    });
    byId("limits-panel").hidden = shown.length === 0;
    if (!shown.length) {
      return;
    }
    byId("limits-note").textContent =
      "Official: each agent's own figures as it reported them last (Codex's rate_limits, Claude Code's statusline), times in " +
      body.timezone +
      ". The forecast is an estimate: the current pace carried forward. Rows marked estimate are agents with no official figure: the current 5-hour block against the agent's largest of the last two weeks.";
    ns.tables.render(
      byId("limits-table"),
      [
        { key: "agent", label: "Agent", name: true },
        { key: "window", label: "Window", format: windowCell },
        { key: "meter", label: "Used", format: usedCell },
        { key: "windowMinutes", label: "Length", numeric: true, format: lengthText },
        { key: "resetsAt", label: "Resets" },
        { key: "forecast", label: "Forecast (estimate)" },
      ],
      shown,
      ""
    );
    ns.exports.register("limits", function () {
      return {
        name: "llmledger-limit-windows",
        columns: ["source", "agent", "kind", "window", "usedPercent", "windowMinutes", "resetsAtIso", "reaches100At", "observedAt"],
        rows: shown,
      };
    });
  }

  function load(token) {
    var config = page.config;
    if (config.signIn && !config.admin) {
      byId("limits-panel").hidden = true;
      return;
    }
    ns.data.load("limit-windows", { tz: page.query.tz }).then(
      function (body) {
        if (token === page.loading) {
          render(body);
        }
      },
      function () {
        if (token === page.loading) {
          byId("limits-panel").hidden = true; /* an older report file, or refused: nothing to show */
        }
      }
    );
  }

  ns.panels.limits = { load: load };
})((window.llmledger = window.llmledger || {}));
