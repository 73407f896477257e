/*
 * What the page's parts share (window.llmledger.page): the window and filters asked for (from
 * the URL, or fixed in an `llmledger html` report), the remembered choices, the year's graph
 * data once loaded, the selected day; and small helpers over that data.
 */
(function (ns) {
  "use strict";

  var fmt = ns.fmt;
  var dom = ns.dom;
  var config = ns.data.config;
  var isStatic = Boolean(config.static);
  var PREFS_KEY = "llmledger-dashboard";
  /* Sessions and the operators' lists read every event: they cover the last days only. */
  var RECENT_DAYS = 31;

  function loadPrefs() {
    var prefs = { metric: "cost", view: "2d", dailyMetric: "tokens", stack: "model" };
    try {
      var saved = JSON.parse(window.localStorage.getItem(PREFS_KEY) || "{}");
      Object.keys(prefs).forEach(function (name) {
        if (typeof saved[name] === "string") {
          prefs[name] = saved[name];
        }
      });
    } catch (error) {
      /* unreadable: the defaults */
    }
    return prefs;
  }

  function initialQuery() {
    var today = config.today || new Date().toISOString().slice(0, 10);
    if (isStatic) {
      var fixed = config.query || {};
      return {
        tz: fixed.tz || config.defaultTimezone || "UTC",
        since: fixed.since || "",
        until: fixed.until || "",
        source: "",
        year: config.initialYear || Number(today.slice(0, 4)),
        yearChosen: true,
      };
    }
    var url = new URLSearchParams(window.location.search);
    var year = Number(url.get("year"));
    return {
      tz: url.get("tz") || config.defaultTimezone || "UTC",
      since: url.get("since") || "",
      until: url.get("until") || "",
      source: url.get("source") || "",
      year: year >= 1970 ? year : Number(today.slice(0, 4)),
      yearChosen: year >= 1970,
    };
  }

  var page = {
    config: config,
    isStatic: isStatic,
    prefs: loadPrefs(),
    query: initialQuery(),
    graph: null /* the year's graph view, once loaded */,
    byDate: {} /* its contributions by date */,
    selected: null /* the day whose breakdown is open */,
    loading: 0 /* counts loads: an answer to an older one is dropped */,
  };

  page.savePrefs = function () {
    try {
      window.localStorage.setItem(PREFS_KEY, JSON.stringify(page.prefs));
    } catch (error) {
      /* storage refused: the choice lasts this page */
    }
  };

  page.byId = function (id) {
    return document.getElementById(id);
  };

  page.setGraph = function (graph) {
    page.graph = graph;
    page.byDate = {};
    graph.contributions.forEach(function (day) {
      page.byDate[day.date] = day;
    });
  };

  page.graphParams = function () {
    var q = page.query;
    return { tz: q.tz, since: q.since, until: q.until, source: q.source, year: String(q.year) };
  };

  /* The window's last RECENT_DAYS days with usage (as views.recent_window in Python). */
  page.recentParams = function () {
    var graph = page.graph;
    if (!graph || !graph.contributions.length) {
      return null;
    }
    var q = page.query;
    var last = graph.contributions[graph.contributions.length - 1].date;
    var first = String(q.year) + "-01-01";
    if (q.since && q.since > first) {
      first = q.since;
    }
    var since = ns.days.add(last, 1 - RECENT_DAYS);
    return { tz: q.tz, source: q.source, since: since > first ? since : first, until: last };
  };
  page.RECENT_DAYS = RECENT_DAYS;

  /* Every date from the first day with usage in the data to the last. */
  page.windowDays = function () {
    var graph = page.graph;
    if (!graph || !graph.contributions.length) {
      return [];
    }
    var last = graph.contributions[graph.contributions.length - 1].date;
    var days = [];
    for (var day = graph.contributions[0].date; day <= last; day = ns.days.add(day, 1)) {
      days.push(day);
    }
    return days;
  };

  page.describeDay = function (date) {
    var day = page.byDate[date];
    if (!day) {
      return [fmt.longDate(date), "No usage"];
    }
    return [
      fmt.longDate(date),
      fmt.cost(day.totals.cost) + " · " + fmt.integer(day.totals.tokens) + " tokens",
      fmt.integer(day.totals.messages) + " requests",
    ];
  };

  /* -- helpers over the data ------------------------------------------------------------- */

  page.tokensOf = function (parts) {
    return parts.input + parts.output + parts.cacheRead + parts.cacheWrite + parts.reasoning;
  };

  /* The share of the prompt read from the cache; null for a day without a prompt. */
  page.cacheRatio = function (day) {
    if (!day) {
      return null;
    }
    var parts = day.tokenBreakdown;
    var prompt = parts.input + parts.cacheRead + parts.cacheWrite;
    return prompt ? Math.round((parts.cacheRead / prompt) * 1e6) / 1e6 : null;
  };

  /* A cost, or "unknown" when none of the row's requests had a price. */
  page.costCell = function (value, row) {
    if (row && row.unpriced && row.unpriced >= (row.messages || row.requests || 0)) {
      return "unknown";
    }
    return fmt.cost(value);
  };

  page.nameWithBadge = function (value, row) {
    var span = dom.el("span", { title: value }, value);
    if (row.unpriced && row.rowClass !== "group") {
      span.appendChild(dom.el("span", { class: "badge", title: row.unpriced + " requests without a price" }, "unpriced"));
    }
    return span;
  };

  ns.page = page;
})((window.llmledger = window.llmledger || {}));
