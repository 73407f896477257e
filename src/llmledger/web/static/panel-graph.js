/* The graph panel: the year in 2D or 3D, its stats, and the breakdown of the selected day. */
(function (ns) {
  "use strict";

  var fmt = ns.fmt;
  var dom = ns.dom;
  var page = ns.page;
  var byId = page.byId;

  /* The selected day's cell is marked in place (the graph is not drawn again: focus stays). */
  function markSelected() {
    var selector = "#graph-panel [data-date].selected, #graph-panel [data-date='" + page.selected + "']";
    Array.prototype.forEach.call(document.querySelectorAll(selector), function (node) {
      node.classList.toggle("selected", node.getAttribute("data-date") === page.selected);
    });
  }

  function selectDay(date) {
    page.selected = date;
    markSelected();
    renderDay();
    var section = byId("day-breakdown");
    if (!section.hidden && section.scrollIntoView) {
      section.scrollIntoView({ block: "nearest" });
    }
  }

  function closeDay() {
    var date = page.selected;
    page.selected = null;
    markSelected();
    renderDay();
    var cell = document.querySelector("#graph-panel :not([hidden]) > svg [data-date='" + date + "']");
    if (cell) {
      cell.focus(); /* back where the day was opened */
    }
  }

  function renderGraph() {
    var prefs = page.prefs;
    var options = {
      year: page.query.year,
      byDate: page.byDate,
      metric: prefs.metric,
      selected: page.selected,
      describe: page.describeDay,
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
      scrollToLatest();
    }
    ns.exports.register("graph", function () {
      return {
        name: "llmledger-graph-" + page.query.year,
        columns: ["date", "tokens", "cost", "requests", "intensity", "tokenIntensity"],
        rows: page.graph.contributions.map(function (day) {
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

  /* On a narrow screen the 2D graph scrolls: the latest weeks first. */
  function scrollToLatest() {
    if (!page.selected) {
      var flat = byId("graph-2d");
      flat.scrollLeft = flat.scrollWidth;
    }
  }

  function stat(label, value, detail, raw) {
    var item = dom.el("div", { "data-stat": label });
    item.appendChild(dom.el("dt", null, label));
    var dd = dom.el("dd", { "data-value": raw, class: label === "Favourite model" ? "name" : null }, value);
    if (detail) {
      dd.appendChild(dom.el("small", null, detail));
    }
    item.appendChild(dd);
    return item;
  }

  function days(count) {
    return count + (count === 1 ? " day" : " days");
  }

  function renderStats() {
    var list = dom.clear(byId("stats"));
    var summary = page.graph.summary;
    var stats = summary.stats;
    var metric = page.prefs.metric;
    var busiest = stats.busiestDay[metric];
    var favourite = stats.favouriteModel[metric];
    var today = page.config.today;
    var pastYear = today && page.query.year < Number(today.slice(0, 4));
    list.appendChild(stat("Total cost", fmt.cost(summary.totalCost), null, summary.totalCost));
    list.appendChild(stat("Total tokens", fmt.compact(summary.totalTokens), fmt.integer(summary.totalTokens), summary.totalTokens));
    list.appendChild(stat("Active days", fmt.integer(stats.activeDays), null, stats.activeDays));
    list.appendChild(stat(pastYear ? "Streak at year end" : "Current streak", days(stats.currentStreak), null, stats.currentStreak));
    list.appendChild(stat("Longest streak", days(stats.longestStreak), null, stats.longestStreak));
    list.appendChild(
      stat(
        "Busiest day",
        busiest ? fmt.shortDate(busiest.date) + ", " + busiest.date.slice(0, 4) : "—",
        busiest ? fmt.cost(busiest.cost) + " · " + fmt.compact(busiest.tokens) + " tokens" : null,
        busiest ? busiest.date : ""
      )
    );
    var detail = null;
    if (favourite) {
      detail = metric === "cost" ? "most cost: " + fmt.cost(favourite.cost) : "most tokens: " + fmt.compact(favourite.tokens);
    }
    list.appendChild(stat("Favourite model", favourite ? favourite.model : "—", detail, favourite ? favourite.model : ""));
  }

  /* A day's entries grouped by source (a row each), its models under it. */
  function dayRows(day) {
    var tokensOf = page.tokensOf;
    var groups = {};
    day.sources.forEach(function (entry) {
      var group = groups[entry.source];
      if (!group) {
        group = groups[entry.source] = {
          rowClass: "group",
          name: entry.source,
          messages: 0,
          unpriced: 0,
          input: 0,
          output: 0,
          cacheRead: 0,
          cacheWrite: 0,
          tokens: 0,
          cost: 0,
          entries: [],
        };
      }
      var row = {
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
      };
      ["messages", "unpriced", "input", "output", "cacheRead", "cacheWrite", "tokens", "cost"].forEach(function (name) {
        group[name] += row[name];
      });
      group.entries.push(row);
    });
    var biggest = function (a, b) {
      return b.cost - a.cost || b.tokens - a.tokens;
    };
    var rows = [];
    Object.keys(groups)
      .map(function (name) {
        return groups[name];
      })
      .sort(biggest)
      .forEach(function (group) {
        rows.push(group);
        rows.push.apply(rows, group.entries.sort(biggest));
      });
    return rows;
  }

  function optionalInteger(value) {
    return value === undefined ? "" : fmt.integer(value);
  }

  function summaryLine(day) {
    var parts = day.tokenBreakdown;
    return (
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
      " requests"
    );
  }

  function renderDay() {
    var section = byId("day-breakdown");
    var date = page.selected;
    if (!date) {
      section.hidden = true;
      return;
    }
    var day = page.byDate[date];
    section.hidden = false;
    section.setAttribute("data-date", date);
    byId("day-title").textContent = fmt.longDate(date);
    byId("day-summary").textContent = day ? summaryLine(day) : "No usage on this day.";
    var rows = day ? dayRows(day) : [];
    ns.tables.render(
      byId("day-table"),
      [
        { key: "name", label: "Source / model", name: true, format: page.nameWithBadge },
        { key: "messages", label: "Requests", numeric: true, format: fmt.integer },
        { key: "input", label: "Input", numeric: true, format: optionalInteger },
        { key: "output", label: "Output", numeric: true, format: optionalInteger },
        { key: "cacheRead", label: "Cache read", numeric: true, format: optionalInteger },
        { key: "cacheWrite", label: "Cache write", numeric: true, format: optionalInteger },
        { key: "tokens", label: "Tokens", numeric: true, format: fmt.integer },
        { key: "cost", label: "Cost", numeric: true, format: page.costCell },
      ],
      rows,
      "No usage on this day."
    );
    ns.exports.register("day", function () {
      return {
        name: "llmledger-day-" + date,
        columns: ["date", "source", "model", "requests", "inputTokens", "outputTokens", "cacheReadTokens", "cacheWriteTokens", "totalTokens", "cost"],
        rows: rows
          .filter(function (row) {
            return row.rowClass === "sub";
          })
          .map(function (row) {
            return {
              date: date,
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

  ns.panels = ns.panels || {};
  ns.panels.graph = {
    render: renderGraph,
    renderStats: renderStats,
    renderDay: renderDay,
    closeDay: closeDay,
    scrollToLatest: scrollToLatest,
  };
})((window.llmledger = window.llmledger || {}));
