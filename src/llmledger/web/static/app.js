/*
 * The dashboard page: reads the window and filters (time zone, since, until, source, year)
 * from the URL (or, in an `llmledger html` report, from the file), loads the year's graph
 * data, and draws the graph, its stats, the day breakdown, the charts and the tables from it;
 * sessions and the operators' lists load after.
 */
(function (ns) {
  "use strict";

  var fmt = ns.fmt;
  var dom = ns.dom;
  var data = ns.data;
  var config = data.config;
  var isStatic = Boolean(config.static);
  var PREFS_KEY = "llmledger-dashboard";
  var SERIES = 7;

  function byId(id) {
    return document.getElementById(id);
  }

  /* -- state ---------------------------------------------------------------------------- */

  function loadPrefs() {
    var defaults = { metric: "cost", view: "2d", dailyMetric: "tokens", stack: "model" };
    try {
      var saved = JSON.parse(window.localStorage.getItem(PREFS_KEY) || "{}");
      Object.keys(defaults).forEach(function (name) {
        if (typeof saved[name] === "string") {
          defaults[name] = saved[name];
        }
      });
    } catch (error) {
      /* unreadable: the defaults */
    }
    return defaults;
  }

  function savePrefs() {
    try {
      window.localStorage.setItem(PREFS_KEY, JSON.stringify(prefs));
    } catch (error) {
      /* storage refused: the choice lasts this page */
    }
  }

  function initialState() {
    var today = config.today || new Date().toISOString().slice(0, 10);
    if (isStatic) {
      var query = config.query || {};
      return {
        tz: query.tz || config.defaultTimezone || "UTC",
        since: query.since || "",
        until: query.until || "",
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

  var prefs = loadPrefs();
  var state = initialState();
  var graph = null;
  var byDate = {};
  var selected = null;
  var sessions = null;
  var loading = 0;

  function graphParams() {
    return { tz: state.tz, since: state.since, until: state.until, source: state.source, year: String(state.year) };
  }

  function syncUrl() {
    if (isStatic || !window.history.replaceState) {
      return;
    }
    var params = {
      tz: state.tz === config.defaultTimezone ? "" : state.tz,
      since: state.since,
      until: state.until,
      source: state.source,
      year: String(state.year),
    };
    var query = data.canonical(params);
    window.history.replaceState(null, "", window.location.pathname + (query ? "?" + query : ""));
  }

  /* -- status --------------------------------------------------------------------------- */

  function setStatus(text) {
    byId("status").textContent = text;
  }

  function showError(error) {
    var box = byId("error");
    box.textContent = "Could not load the data: " + (error && error.message ? error.message : error);
    box.hidden = false;
    setStatus("");
    document.documentElement.setAttribute("data-loading", "false");
  }

  /* -- loading -------------------------------------------------------------------------- */

  function refresh() {
    var token = ++loading;
    var started = window.performance.now();
    document.documentElement.setAttribute("data-loading", "true");
    setStatus("Loading " + state.year + "…");
    byId("error").hidden = true;
    return data
      .load("graph", graphParams())
      .then(function (body) {
        if (token !== loading) {
          return null;
        }
        var years = body.meta.availableYears || [];
        if (!body.contributions.length && !state.yearChosen && years.length && years.indexOf(state.year) < 0) {
          state.year = years[years.length - 1];
          state.yearChosen = true;
          return refresh();
        }
        if (window.performance.mark) {
          window.performance.mark("llmledger-data"); /* the data is here: drawing starts */
        }
        graph = body;
        byDate = {};
        graph.contributions.forEach(function (day) {
          byDate[day.date] = day;
        });
        if (selected && selected.slice(0, 4) !== String(state.year)) {
          selected = null;
        }
        syncUrl();
        renderAll();
        var seconds = (window.performance.now() - started) / 1000;
        setStatus(
          graph.contributions.length +
            " days with usage in " +
            state.year +
            " · time zone " +
            graph.meta.timezone +
            (isStatic ? "" : " · loaded in " + seconds.toFixed(2) + " s")
        );
        document.documentElement.setAttribute("data-loading", "false");
        if (!document.documentElement.hasAttribute("data-ready")) {
          document.documentElement.setAttribute("data-ready", "true");
          if (window.performance.mark) {
            window.performance.mark("llmledger-ready");
          }
        }
        loadSessions(token);
        loadAdmin(token);
        return null;
      })
      .catch(showError);
  }

  /*
   * Sessions and the operators' lists cover the window's last 31 days with usage (reading
   * them means reading every event, not the hourly sums); they load when their panel comes
   * into view.
   */
  var RECENT_DAYS = 31;

  function recentParams() {
    if (!graph || !graph.contributions.length) {
      return null;
    }
    var last = graph.contributions[graph.contributions.length - 1].date;
    var first = String(state.year) + "-01-01";
    if (state.since && state.since > first) {
      first = state.since;
    }
    var since = ns.days.add(last, 1 - RECENT_DAYS);
    return { tz: state.tz, source: state.source, since: since > first ? since : first, until: last };
  }

  var pending = {};

  function whenVisible(id, load) {
    var panel = byId(id);
    if (pending[id]) {
      pending[id].disconnect();
    }
    if (!window.IntersectionObserver) {
      load();
      return;
    }
    var observer = new IntersectionObserver(
      function (entries) {
        if (entries.some(function (entry) { return entry.isIntersecting; })) {
          observer.disconnect();
          delete pending[id];
          load();
        }
      },
      { rootMargin: "300px" }
    );
    pending[id] = observer;
    observer.observe(panel);
  }

  function loadSessions(token) {
    sessions = null;
    sessionsShown = SESSIONS_SHOWN;
    var params = recentParams();
    if (!params) {
      sessions = { sessions: [], sessionCount: 0 };
      renderSessions();
      return;
    }
    byId("sessions-note").textContent = "Loading sessions…";
    whenVisible("sessions-panel", function () {
      data
        .load("sessions", params)
        .then(function (body) {
          if (token === loading) {
            sessions = body;
            sessions.window = params;
            renderSessions();
          }
        })
        .catch(function (error) {
          byId("sessions-note").textContent = "Sessions could not be loaded: " + error.message;
        });
    });
  }

  function loadAdmin(token) {
    if (!config.admin) {
      return;
    }
    var params = recentParams();
    var sections = document.querySelectorAll("[data-top]");
    byId("admin-note").textContent = params
      ? "From " + fmt.shortDate(params.since) + " to " + fmt.shortDate(params.until) + ", " + params.until.slice(0, 4) + " (the window's last " + RECENT_DAYS + " days)."
      : "No usage in this window.";
    if (!params) {
      Array.prototype.forEach.call(sections, function (section) {
        renderTop(section, { rows: [] });
      });
      return;
    }
    whenVisible("admin-panel", function () {
      Array.prototype.forEach.call(sections, function (section) {
        var by = section.getAttribute("data-top");
        var asked = { tz: params.tz, source: params.source, since: params.since, until: params.until, by: by };
        data
          .load("admin/top", asked)
          .then(function (body) {
            if (token === loading) {
              renderTop(section, body);
            }
          })
          .catch(function (error) {
            renderTop(section, { rows: [], error: error.message });
          });
      });
    });
  }

  /* -- the window's days ---------------------------------------------------------------- */

  function windowDays() {
    if (!graph || !graph.contributions.length) {
      return [];
    }
    var first = graph.contributions[0].date;
    var last = graph.contributions[graph.contributions.length - 1].date;
    var days = [];
    for (var day = first; day <= last; day = ns.days.add(day, 1)) {
      days.push(day);
    }
    return days;
  }

  function describeDay(date) {
    var day = byDate[date];
    if (!day) {
      return [fmt.longDate(date), "No usage"];
    }
    return [
      fmt.longDate(date),
      fmt.cost(day.totals.cost) + " · " + fmt.integer(day.totals.tokens) + " tokens",
      fmt.integer(day.totals.messages) + " requests",
    ];
  }

  /* -- rendering ------------------------------------------------------------------------ */

  function renderAll() {
    renderControls();
    renderYearNav();
    renderGraph();
    renderStats();
    renderDay();
    renderDaily();
    renderModels();
    renderCache();
    renderFooter();
  }

  function renderControls() {
    var select = byId("control-source");
    var sources = isStatic ? config.sources || [] : graph.meta.availableSources || [];
    var current = state.source;
    while (select.options.length > 1) {
      select.remove(1);
    }
    sources.forEach(function (name) {
      select.appendChild(dom.el("option", { value: name }, name));
    });
    if (current && sources.indexOf(current) < 0) {
      select.appendChild(dom.el("option", { value: current }, current));
    }
    select.value = current;
    byId("control-tz").value = state.tz;
    byId("control-since").value = state.since;
    byId("control-until").value = state.until;
  }

  function yearBounds() {
    var years = isStatic ? config.years || [] : (graph && graph.meta.availableYears) || [];
    var all = years.concat([state.year]);
    if (!isStatic && config.today) {
      all.push(Number(config.today.slice(0, 4)));
    }
    return { min: Math.min.apply(null, all), max: Math.max.apply(null, all), years: years };
  }

  function renderYearNav() {
    var bounds = yearBounds();
    byId("year-label").textContent = String(state.year);
    if (isStatic) {
      var at = bounds.years.indexOf(state.year);
      byId("year-prev").disabled = at <= 0;
      byId("year-next").disabled = at < 0 || at >= bounds.years.length - 1;
    } else {
      byId("year-prev").disabled = state.year <= bounds.min;
      byId("year-next").disabled = state.year >= bounds.max;
    }
  }

  function moveYear(step) {
    if (isStatic) {
      var years = config.years || [];
      var at = years.indexOf(state.year) + step;
      if (at < 0 || at >= years.length) {
        return;
      }
      state.year = years[at];
    } else {
      state.year += step;
    }
    state.yearChosen = true;
    refresh();
  }

  /* The selected day's cell is marked in place (the graph is not drawn again: focus stays). */
  function markSelected() {
    var nodes = document.querySelectorAll("#graph-panel [data-date].selected, #graph-panel [data-date='" + selected + "']");
    Array.prototype.forEach.call(nodes, function (node) {
      node.classList.toggle("selected", node.getAttribute("data-date") === selected);
    });
  }

  function selectDay(date) {
    selected = date;
    markSelected();
    renderDay();
    var section = byId("day-breakdown");
    if (!section.hidden && section.scrollIntoView) {
      section.scrollIntoView({ block: "nearest" });
    }
  }

  function renderGraph() {
    var options = {
      year: state.year,
      byDate: byDate,
      metric: prefs.metric,
      selected: selected,
      describe: describeDay,
      onSelect: selectDay,
    };
    var flat = byId("graph-2d");
    var solid = byId("graph-3d");
    flat.hidden = prefs.view === "3d";
    solid.hidden = prefs.view !== "3d";
    if (prefs.view === "3d") {
      ns.graph3d.render(solid, options);
    } else {
      ns.graph2d.render(flat, options);
      if (!selected) {
        flat.scrollLeft = flat.scrollWidth; /* the latest weeks first on a narrow screen */
      }
    }
    ns.exports.register("graph", function () {
      return {
        name: "llmledger-graph-" + state.year,
        columns: ["date", "tokens", "cost", "requests", "intensity", "tokenIntensity"],
        rows: graph.contributions.map(function (day) {
          return {
            date: day.date,
            tokens: day.totals.tokens,
            cost: day.totals.cost,
            requests: day.totals.messages,
            intensity: day.intensity,
            tokenIntensity: day.tokenIntensity,
          };
        }),
      };
    });
  }

  function stat(label, value, detail, raw) {
    var item = dom.el("div", { "data-stat": label });
    item.appendChild(dom.el("dt", null, label));
    var dd = dom.el("dd", { "data-value": raw === undefined ? null : raw, class: label === "Favourite model" ? "name" : null }, value);
    if (detail) {
      dd.appendChild(dom.el("small", null, detail));
    }
    item.appendChild(dd);
    return item;
  }

  function renderStats() {
    var list = dom.clear(byId("stats"));
    var summary = graph.summary;
    var stats = summary.stats;
    var metric = prefs.metric;
    var busiest = stats.busiestDay[metric];
    var favourite = stats.favouriteModel[metric];
    var pastYear = config.today && state.year < Number(config.today.slice(0, 4));
    list.appendChild(stat("Total cost", fmt.cost(summary.totalCost), null, summary.totalCost));
    list.appendChild(stat("Total tokens", fmt.compact(summary.totalTokens), fmt.integer(summary.totalTokens), summary.totalTokens));
    list.appendChild(stat("Active days", fmt.integer(stats.activeDays), null, stats.activeDays));
    list.appendChild(
      stat(pastYear ? "Streak at year end" : "Current streak", stats.currentStreak + (stats.currentStreak === 1 ? " day" : " days"), null, stats.currentStreak)
    );
    list.appendChild(stat("Longest streak", stats.longestStreak + (stats.longestStreak === 1 ? " day" : " days"), null, stats.longestStreak));
    list.appendChild(
      stat(
        "Busiest day",
        busiest ? fmt.shortDate(busiest.date) + ", " + busiest.date.slice(0, 4) : "—",
        busiest ? fmt.cost(busiest.cost) + " · " + fmt.compact(busiest.tokens) + " tokens" : null,
        busiest ? busiest.date : ""
      )
    );
    list.appendChild(
      stat(
        "Favourite model",
        favourite ? favourite.model : "—",
        favourite ? (metric === "cost" ? "most cost: " + fmt.cost(favourite.cost) : "most tokens: " + fmt.compact(favourite.tokens)) : null,
        favourite ? favourite.model : ""
      )
    );
  }

  function dayRows(day) {
    var groups = {};
    day.sources.forEach(function (entry) {
      var group =
        groups[entry.source] ||
        (groups[entry.source] = { source: entry.source, cost: 0, tokens: 0, messages: 0, unpriced: 0, input: 0, output: 0, cacheRead: 0, cacheWrite: 0, entries: [] });
      group.cost += entry.cost;
      group.unpriced += entry.unpricedMessages || 0;
      group.tokens += tokensOf(entry.tokens);
      group.input += entry.tokens.input;
      group.output += entry.tokens.output + entry.tokens.reasoning;
      group.cacheRead += entry.tokens.cacheRead;
      group.cacheWrite += entry.tokens.cacheWrite;
      group.messages += entry.messages;
      group.entries.push(entry);
    });
    var rows = [];
    Object.keys(groups)
      .map(function (name) {
        return groups[name];
      })
      .sort(function (a, b) {
        return b.cost - a.cost || b.tokens - a.tokens;
      })
      .forEach(function (group) {
        rows.push({
          rowClass: "group",
          name: group.source,
          messages: group.messages,
          unpriced: group.unpriced,
          input: group.input,
          output: group.output,
          cacheRead: group.cacheRead,
          cacheWrite: group.cacheWrite,
          tokens: group.tokens,
          cost: group.cost,
        });
        group.entries
          .slice()
          .sort(function (a, b) {
            return b.cost - a.cost || tokensOf(b.tokens) - tokensOf(a.tokens);
          })
          .forEach(function (entry) {
            rows.push({
              rowClass: "sub",
              name: entry.modelId,
              source: entry.source,
              unpriced: entry.unpricedMessages || 0,
              messages: entry.messages,
              input: entry.tokens.input,
              output: entry.tokens.output + entry.tokens.reasoning,
              cacheRead: entry.tokens.cacheRead,
              cacheWrite: entry.tokens.cacheWrite,
              tokens: tokensOf(entry.tokens),
              cost: entry.cost,
            });
          });
      });
    return rows;
  }

  function tokensOf(parts) {
    return parts.input + parts.output + parts.cacheRead + parts.cacheWrite + parts.reasoning;
  }

  function nameWithBadge(value, row) {
    var span = dom.el("span", { title: value }, value);
    if (row.unpriced && row.rowClass !== "group") {
      span.appendChild(dom.el("span", { class: "badge", title: row.unpriced + " requests without a price" }, "unpriced"));
    }
    return span;
  }

  function renderDay() {
    var section = byId("day-breakdown");
    var day = selected ? byDate[selected] : null;
    if (!selected) {
      section.hidden = true;
      return;
    }
    section.hidden = false;
    section.setAttribute("data-date", selected);
    byId("day-title").textContent = fmt.longDate(selected);
    var summary = byId("day-summary");
    var rows = day ? dayRows(day) : [];
    if (day) {
      var parts = day.tokenBreakdown;
      summary.textContent =
        fmt.cost(day.totals.cost) +
        " · " +
        fmt.integer(day.totals.tokens) +
        " tokens (input " +
        fmt.integer(parts.input) +
        ", output " +
        fmt.integer(parts.output + parts.reasoning) +
        " of which reasoning " +
        fmt.integer(parts.reasoning) +
        ", cache read " +
        fmt.integer(parts.cacheRead) +
        ", cache write " +
        fmt.integer(parts.cacheWrite) +
        ") · " +
        fmt.integer(day.totals.messages) +
        " requests";
    } else {
      summary.textContent = "No usage on this day.";
    }
    ns.tables.render(
      byId("day-table"),
      [
        { key: "name", label: "Source / model", name: true, format: nameWithBadge },
        { key: "messages", label: "Requests", numeric: true, format: fmt.integer },
        { key: "input", label: "Input", numeric: true, format: optionalInteger },
        { key: "output", label: "Output", numeric: true, format: optionalInteger },
        { key: "cacheRead", label: "Cache read", numeric: true, format: optionalInteger },
        { key: "cacheWrite", label: "Cache write", numeric: true, format: optionalInteger },
        { key: "tokens", label: "Tokens", numeric: true, format: fmt.integer },
        { key: "cost", label: "Cost", numeric: true, format: costCell },
      ],
      rows,
      "No usage on this day."
    );
    ns.exports.register("day", function () {
      return {
        name: "llmledger-day-" + selected,
        columns: ["date", "source", "model", "requests", "inputTokens", "outputTokens", "cacheReadTokens", "cacheWriteTokens", "totalTokens", "cost"],
        rows: rows
          .filter(function (row) {
            return row.rowClass === "sub";
          })
          .map(function (row) {
            return {
              date: selected,
              source: row.source,
              model: row.name,
              requests: row.messages,
              inputTokens: row.input,
              outputTokens: row.output,
              cacheReadTokens: row.cacheRead,
              cacheWriteTokens: row.cacheWrite,
              totalTokens: row.tokens,
              cost: row.cost,
            };
          }),
      };
    });
  }

  /* A cost, or "unknown" when none of the row's requests had a price. */
  function costCell(value, row) {
    if (row && row.unpriced && row.unpriced >= (row.messages || row.requests || 0)) {
      return "unknown";
    }
    return fmt.cost(value);
  }

  function optionalInteger(value) {
    return value === undefined ? "" : fmt.integer(value);
  }

  /* Per day, stacked by model or by source: the biggest series, the rest as "Other". */
  function dailySeries(days) {
    var metric = prefs.dailyMetric;
    var keyOf = prefs.stack === "source" ? function (entry) { return entry.source; } : function (entry) { return entry.modelId; };
    var amountOf = metric === "cost" ? function (entry) { return entry.cost; } : function (entry) { return tokensOf(entry.tokens); };
    var perKey = {};
    var totals = {};
    days.forEach(function (date, index) {
      var day = byDate[date];
      if (!day) {
        return;
      }
      day.sources.forEach(function (entry) {
        var key = keyOf(entry);
        var amount = amountOf(entry);
        if (!perKey[key]) {
          perKey[key] = days.map(function () {
            return 0;
          });
          totals[key] = 0;
        }
        perKey[key][index] += amount;
        totals[key] += amount;
      });
    });
    var keys = Object.keys(perKey).sort(function (a, b) {
      return totals[b] - totals[a] || (a < b ? -1 : 1);
    });
    var series = keys.slice(0, SERIES).map(function (key, index) {
      return { key: key, label: key, index: String(index), values: perKey[key], total: totals[key] };
    });
    if (keys.length > SERIES) {
      var other = days.map(function () {
        return 0;
      });
      var otherTotal = 0;
      keys.slice(SERIES).forEach(function (key) {
        perKey[key].forEach(function (amount, index) {
          other[index] += amount;
        });
        otherTotal += totals[key];
      });
      series.push({ key: "(other)", label: "Other (" + (keys.length - SERIES) + ")", index: "other", values: other, total: otherTotal });
    }
    return series;
  }

  function renderDaily() {
    var days = windowDays();
    var chart = byId("daily-chart");
    var legend = dom.clear(byId("daily-legend"));
    var metric = prefs.dailyMetric;
    var format = metric === "cost" ? fmt.cost : fmt.compact;
    var series = dailySeries(days);
    if (!days.length) {
      ns.charts.empty(chart, "No usage in " + state.year + " for this window.");
    } else {
      ns.charts.stackedBars(chart, {
        days: days,
        series: series,
        format: format,
        label: (metric === "cost" ? "Cost" : "Tokens") + " per day, stacked by " + prefs.stack,
        describe: function (date) {
          var index = days.indexOf(date);
          var lines = [fmt.longDate(date)];
          var total = 0;
          series.forEach(function (item) {
            total += item.values[index];
          });
          lines.push("Total " + (metric === "cost" ? fmt.cost(total) : fmt.integer(total) + " tokens"));
          series.forEach(function (item) {
            if (item.values[index] > 0) {
              lines.push(item.label + ": " + (metric === "cost" ? fmt.cost(item.values[index]) : fmt.integer(item.values[index])));
            }
          });
          return lines;
        },
      });
    }
    series.forEach(function (item) {
      var entry = dom.el("li", { "data-series": item.key });
      entry.appendChild(dom.el("span", { class: "swatch series-" + item.index, "aria-hidden": "true" }));
      entry.appendChild(dom.el("span", null, item.label + " · " + (metric === "cost" ? fmt.cost(item.total) : fmt.compact(item.total))));
      legend.appendChild(entry);
    });
    ns.exports.register("daily", function () {
      var current = dailySeries(windowDays());
      var allDays = windowDays();
      return {
        name: "llmledger-daily-" + prefs.dailyMetric + "-by-" + prefs.stack + "-" + state.year,
        columns: ["date"].concat(
          current.map(function (item) {
            return item.key;
          }),
          ["total"]
        ),
        rows: allDays.map(function (date, index) {
          var row = { date: date };
          var total = 0;
          current.forEach(function (item) {
            row[item.key] = item.values[index];
            total += item.values[index];
          });
          row.total = total;
          return row;
        }),
      };
    });
  }

  function modelRows() {
    var models = {};
    graph.contributions.forEach(function (day) {
      day.sources.forEach(function (entry) {
        var model = models[entry.modelId] || (models[entry.modelId] = { model: entry.modelId, requests: 0, tokens: 0, cost: 0, unpriced: 0 });
        model.requests += entry.messages;
        model.tokens += tokensOf(entry.tokens);
        model.cost += entry.cost;
        model.unpriced += entry.unpricedMessages || 0;
      });
    });
    var rows = Object.keys(models).map(function (name) {
      return models[name];
    });
    var totalCost = rows.reduce(function (sum, row) {
      return sum + row.cost;
    }, 0);
    var totalTokens = rows.reduce(function (sum, row) {
      return sum + row.tokens;
    }, 0);
    rows.sort(function (a, b) {
      return b.cost - a.cost || b.tokens - a.tokens || (a.model < b.model ? -1 : 1);
    });
    rows.forEach(function (row) {
      row.share = totalCost > 0 ? row.cost / totalCost : totalTokens > 0 ? row.tokens / totalTokens : 0;
    });
    return rows;
  }

  function shareBar(value) {
    var wrap = dom.el("span", { title: fmt.percent(value) });
    var bar = dom.el("span", { class: "share" });
    bar.style.width = Math.max(1, Math.round(value * 48)) + "px";
    wrap.appendChild(bar);
    wrap.appendChild(document.createTextNode(" " + fmt.percent(value)));
    return wrap;
  }

  function renderModels() {
    var rows = modelRows();
    ns.tables.render(
      byId("models-table"),
      [
        { key: "model", label: "Model", name: true, format: nameWithBadge },
        { key: "requests", label: "Requests", numeric: true, format: fmt.integer },
        { key: "tokens", label: "Tokens", numeric: true, format: fmt.compact },
        { key: "cost", label: "Cost", numeric: true, format: costCell },
        { key: "share", label: "Share", format: shareBar },
      ],
      rows,
      "No usage in this window."
    );
    var unpriced = rows.filter(function (row) {
      return row.unpriced > 0;
    });
    var callout = byId("unpriced");
    dom.clear(callout);
    callout.hidden = !unpriced.length;
    if (unpriced.length) {
      callout.appendChild(dom.el("strong", null, unpriced.length === 1 ? "1 model has no price: " : unpriced.length + " models have no price: "));
      callout.appendChild(
        document.createTextNode(
          unpriced
            .map(function (row) {
              return row.model + " (" + fmt.integer(row.unpriced) + " requests, " + fmt.compact(row.tokens) + " tokens)";
            })
            .join(", ") + ". Their cost is in no total here. "
        )
      );
      callout.appendChild(dom.el("span", null, "See llmledger prices MODEL, then llmledger reprice."));
    }
    ns.exports.register("models", function () {
      return { name: "llmledger-models-" + state.year, columns: ["model", "requests", "tokens", "cost", "unpriced", "share"], rows: modelRows() };
    });
  }

  function cacheRatio(day) {
    if (!day) {
      return null;
    }
    var parts = day.tokenBreakdown;
    var prompt = parts.input + parts.cacheRead + parts.cacheWrite;
    return prompt ? Math.round((parts.cacheRead / prompt) * 1e6) / 1e6 : null;
  }

  function renderCache() {
    var days = windowDays();
    var chart = byId("cache-chart");
    if (!days.length) {
      ns.charts.empty(chart, "No usage in " + state.year + " for this window.");
    } else {
      ns.charts.ratioLine(chart, {
        days: days,
        ratios: days.map(function (date) {
          return cacheRatio(byDate[date]);
        }),
        label: "Cache hit ratio per day",
        describe: function (date) {
          var ratio = cacheRatio(byDate[date]);
          return [fmt.longDate(date), ratio === null ? "No prompt" : fmt.percent(ratio) + " of the prompt from the cache"];
        },
      });
    }
    ns.exports.register("cache", function () {
      return {
        name: "llmledger-cache-" + state.year,
        columns: ["date", "inputTokens", "cacheReadTokens", "cacheCreationTokens", "cacheHitRatio"],
        rows: windowDays()
          .filter(function (date) {
            return byDate[date];
          })
          .map(function (date) {
            var parts = byDate[date].tokenBreakdown;
            return {
              date: date,
              inputTokens: parts.input,
              cacheReadTokens: parts.cacheRead,
              cacheCreationTokens: parts.cacheWrite,
              cacheHitRatio: cacheRatio(byDate[date]) || 0,
            };
          }),
      };
    });
  }

  var SESSIONS_SHOWN = 25;
  var sessionsShown = SESSIONS_SHOWN;

  function sessionRows() {
    return ((sessions && sessions.sessions) || []).map(function (row) {
      return {
        unpriced: row.unpricedRequests || 0,
        lastActivity: row.lastActivity || "",
        sessionId: row.sessionId,
        source: row.source || "",
        project: row.projectPath || "",
        models: (row.modelsUsed || []).join(", "),
        requests: row.requests,
        totalTokens: row.totalTokens,
        totalCost: row.totalCost,
      };
    });
  }

  function renderSessions() {
    var loaded = sessionRows();
    var rows = loaded.slice(0, sessionsShown);
    var note = byId("sessions-note");
    var count = sessions ? sessions.sessionCount || loaded.length : 0;
    var span = sessions && sessions.window ? " from " + fmt.shortDate(sessions.window.since) + " to " + fmt.shortDate(sessions.window.until) + ", " + sessions.window.until.slice(0, 4) : " in " + state.year;
    note.textContent =
      count > rows.length
        ? "The " + rows.length + " most recent of " + fmt.integer(count) + " sessions" + span + "."
        : fmt.integer(count) + (count === 1 ? " session" : " sessions") + span + ", most recent first.";
    var more = byId("sessions-more");
    more.hidden = rows.length >= loaded.length;
    more.textContent = "Show " + Math.min(SESSIONS_SHOWN, loaded.length - rows.length) + " more";
    ns.tables.render(
      byId("sessions-table"),
      [
        {
          key: "lastActivity",
          label: "Last activity",
          format: function (value) {
            return value ? value.slice(0, 16).replace("T", " ") : "";
          },
        },
        { key: "sessionId", label: "Session", name: true },
        { key: "source", label: "Source" },
        { key: "project", label: "Project", name: true },
        { key: "models", label: "Models", name: true },
        { key: "requests", label: "Requests", numeric: true, format: fmt.integer },
        { key: "totalTokens", label: "Tokens", numeric: true, format: fmt.compact },
        { key: "totalCost", label: "Cost", numeric: true, format: costCell },
      ],
      rows,
      "No sessions in this window."
    );
    ns.exports.register("sessions", function () {
      return {
        name: "llmledger-sessions-" + state.year,
        columns: ["lastActivity", "sessionId", "source", "project", "models", "requests", "totalTokens", "totalCost"],
        rows: sessionRows().slice(0, sessionsShown),
      };
    });
  }

  function renderTop(section, body) {
    var by = section.getAttribute("data-top");
    var rows = (body.rows || []).map(function (row) {
      return { key: row.key === null ? "(none)" : row.key, requests: row.requests, totalTokens: row.totalTokens, totalCost: row.totalCost };
    });
    ns.tables.render(
      section.querySelector("table"),
      [
        { key: "key", label: by === "api_key" ? "Key" : by === "account" ? "Account" : by === "org" ? "Org" : "User", name: true },
        { key: "requests", label: "Requests", numeric: true, format: fmt.integer },
        { key: "totalTokens", label: "Tokens", numeric: true, format: fmt.compact },
        { key: "totalCost", label: "Cost", numeric: true, format: fmt.cost },
      ],
      rows,
      body.error ? "Could not load: " + body.error : "Nothing in this window."
    );
    ns.exports.register("top-" + by, function () {
      return { name: "llmledger-top-" + by + "-" + state.year, columns: ["key", "requests", "totalTokens", "totalCost"], rows: rows };
    });
  }

  function renderFooter() {
    var parts = ["llmledger " + (graph.meta.version || "")];
    parts.push("time zone " + graph.meta.timezone);
    parts.push(isStatic ? "report written " + (config.generatedAt || graph.meta.generatedAt) : "live from the ledger");
    byId("footer-text").textContent = parts.join(" · ");
  }

  /* -- controls ------------------------------------------------------------------------- */

  function checkRadio(name, value) {
    var input = document.querySelector('input[name="' + name + '"][value="' + value + '"]');
    if (input) {
      input.checked = true;
    }
  }

  function onRadio(name, handler) {
    Array.prototype.forEach.call(document.querySelectorAll('input[name="' + name + '"]'), function (input) {
      input.addEventListener("change", function () {
        if (input.checked) {
          handler(input.value);
        }
      });
    });
  }

  function setupControls() {
    var theme = window.llmledgerTheme;
    checkRadio("theme", theme ? theme.get() : "system");
    onRadio("theme", function (value) {
      if (theme) {
        theme.set(value);
      }
    });
    checkRadio("metric", prefs.metric);
    checkRadio("view", prefs.view);
    checkRadio("daily-metric", prefs.dailyMetric);
    checkRadio("stack", prefs.stack);
    onRadio("metric", function (value) {
      prefs.metric = value;
      savePrefs();
      if (graph) {
        renderGraph();
        renderStats();
      }
    });
    onRadio("view", function (value) {
      prefs.view = value;
      savePrefs();
      if (graph) {
        renderGraph();
      }
    });
    onRadio("daily-metric", function (value) {
      prefs.dailyMetric = value;
      savePrefs();
      if (graph) {
        renderDaily();
      }
    });
    onRadio("stack", function (value) {
      prefs.stack = value;
      savePrefs();
      if (graph) {
        renderDaily();
      }
    });
    byId("year-prev").addEventListener("click", function () {
      moveYear(-1);
    });
    byId("year-next").addEventListener("click", function () {
      moveYear(1);
    });
    byId("day-close").addEventListener("click", function () {
      var date = selected;
      selected = null;
      markSelected();
      renderDay();
      var cell = document.querySelector("#graph-panel :not([hidden]) > svg [data-date='" + date + "']");
      if (cell) {
        cell.focus(); /* back where the day was opened */
      }
    });
    var zones = byId("tz-list");
    if (!isStatic && Intl.supportedValuesOf) {
      Intl.supportedValuesOf("timeZone").forEach(function (zone) {
        zones.appendChild(dom.el("option", { value: zone }));
      });
    }
    var form = byId("controls");
    if (isStatic) {
      ["control-tz", "control-since", "control-until", "control-apply", "control-reset"].forEach(function (id) {
        byId(id).disabled = true;
      });
      var note = byId("controls-note");
      note.hidden = false;
      note.textContent =
        "This report was written by llmledger html; its time zone and dates are fixed (write another for other ones). Source and year can be switched.";
    }
    byId("control-source").addEventListener("change", function () {
      state.source = byId("control-source").value;
      refresh();
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (isStatic) {
        return;
      }
      state.tz = byId("control-tz").value.trim() || config.defaultTimezone;
      state.since = byId("control-since").value;
      state.until = byId("control-until").value;
      state.source = byId("control-source").value;
      var edge = state.until || state.since;
      if (edge) {
        var first = state.since ? Number(state.since.slice(0, 4)) : -Infinity;
        var last = state.until ? Number(state.until.slice(0, 4)) : Infinity;
        if (state.year < first || state.year > last) {
          state.year = Number(edge.slice(0, 4));
        }
      }
      state.yearChosen = true;
      refresh();
    });
    byId("control-reset").addEventListener("click", function () {
      state.tz = config.defaultTimezone;
      state.since = "";
      state.until = "";
      state.source = "";
      refresh();
    });
    byId("sessions-more").addEventListener("click", function () {
      sessionsShown += SESSIONS_SHOWN;
      renderSessions();
    });
    if (config.admin) {
      byId("admin-panel").hidden = false;
    }
    var lastWidth = window.innerWidth;
    var resizeTimer = null;
    window.addEventListener("resize", function () {
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(function () {
        if (graph && window.innerWidth !== lastWidth) {
          lastWidth = window.innerWidth;
          renderDaily();
          renderCache();
          if (!selected) {
            byId("graph-2d").scrollLeft = byId("graph-2d").scrollWidth;
          }
        }
      }, 150);
    });
  }

  setupControls();
  refresh();
})((window.llmledger = window.llmledger || {}));
