/* The charts and the models table: per day (stacked by model or source), top models with the
 * unpriced ones called out, the cache hit ratio. All drawn from the year's graph data. */
(function (ns) {
  "use strict";

  var fmt = ns.fmt;
  var dom = ns.dom;
  var page = ns.page;
  var byId = page.byId;
  var SERIES = 7; /* the biggest series; the rest as "Other" */

  function dailySeries(days) {
    var prefs = page.prefs;
    var keyOf = function (entry) {
      return prefs.stack === "source" ? entry.source : entry.modelId;
    };
    var amountOf = function (entry) {
      return prefs.dailyMetric === "cost" ? entry.cost : page.tokensOf(entry.tokens);
    };
    var perKey = {};
    var totals = {};
    days.forEach(function (date, index) {
      var day = page.byDate[date];
      (day ? day.sources : []).forEach(function (entry) {
        var key = keyOf(entry);
        if (!perKey[key]) {
          perKey[key] = days.map(function () {
            return 0;
          });
          totals[key] = 0;
        }
        perKey[key][index] += amountOf(entry);
        totals[key] += amountOf(entry);
      });
    });
    var keys = Object.keys(perKey).sort(function (a, b) {
      return totals[b] - totals[a] || (a < b ? -1 : 1);
    });
    var series = keys.slice(0, SERIES).map(function (key, index) {
      return { key: key, label: key, index: String(index), values: perKey[key], total: totals[key] };
    });
    if (keys.length > SERIES) {
      var rest = keys.slice(SERIES);
      var other = days.map(function (_, index) {
        return rest.reduce(function (sum, key) {
          return sum + perKey[key][index];
        }, 0);
      });
      var otherTotal = rest.reduce(function (sum, key) {
        return sum + totals[key];
      }, 0);
      series.push({ key: "(other)", label: "Other (" + rest.length + ")", index: "other", values: other, total: otherTotal });
    }
    return series;
  }

  function renderDaily() {
    var days = page.windowDays();
    var chart = byId("daily-chart");
    var legend = dom.clear(byId("daily-legend"));
    var metric = page.prefs.dailyMetric;
    var amount = function (value) {
      return metric === "cost" ? fmt.cost(value) : fmt.integer(value);
    };
    var series = dailySeries(days);
    if (!days.length) {
      ns.charts.empty(chart, "No usage in " + page.query.year + " for this window.");
    } else {
      ns.charts.stackedBars(chart, {
        days: days,
        series: series,
        format: metric === "cost" ? fmt.cost : fmt.compact,
        label: (metric === "cost" ? "Cost" : "Tokens") + " per day, stacked by " + page.prefs.stack,
        describe: function (date) {
          var index = days.indexOf(date);
          var total = series.reduce(function (sum, item) {
            return sum + item.values[index];
          }, 0);
          var lines = [fmt.longDate(date), "Total " + amount(total) + (metric === "cost" ? "" : " tokens")];
          series.forEach(function (item) {
            if (item.values[index] > 0) {
              lines.push(item.label + ": " + amount(item.values[index]));
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
      var shown = page.windowDays();
      var current = dailySeries(shown);
      return {
        name: "llmledger-daily-" + page.prefs.dailyMetric + "-by-" + page.prefs.stack + "-" + page.query.year,
        columns: ["date"].concat(
          current.map(function (item) {
            return item.key;
          }),
          ["total"]
        ),
        rows: shown.map(function (date, index) {
          var row = { date: date, total: 0 };
          current.forEach(function (item) {
            row[item.key] = item.values[index];
            row.total += item.values[index];
          });
          return row;
        }),
      };
    });
  }

  function modelRows() {
    var models = {};
    page.graph.contributions.forEach(function (day) {
      day.sources.forEach(function (entry) {
        var model = models[entry.modelId];
        if (!model) {
          model = models[entry.modelId] = { model: entry.modelId, requests: 0, tokens: 0, cost: 0, unpriced: 0 };
        }
        model.requests += entry.messages;
        model.tokens += page.tokensOf(entry.tokens);
        model.cost += entry.cost;
        model.unpriced += entry.unpricedMessages || 0;
      });
    });
    var rows = Object.keys(models).map(function (name) {
      return models[name];
    });
    var sum = function (name) {
      return rows.reduce(function (total, row) {
        return total + row[name];
      }, 0);
    };
    var totalCost = sum("cost");
    var totalTokens = sum("tokens");
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

  function renderUnpriced(rows) {
    var unpriced = rows.filter(function (row) {
      return row.unpriced > 0;
    });
    var callout = dom.clear(byId("unpriced"));
    callout.hidden = !unpriced.length;
    if (!unpriced.length) {
      return;
    }
    callout.appendChild(dom.el("strong", null, unpriced.length === 1 ? "1 model has no price: " : unpriced.length + " models have no price: "));
    var named = unpriced.map(function (row) {
      return row.model + " (" + fmt.integer(row.unpriced) + " requests, " + fmt.compact(row.tokens) + " tokens)";
    });
    callout.appendChild(document.createTextNode(named.join(", ") + ". Their cost is in no total here. "));
    callout.appendChild(dom.el("span", null, "See llmledger prices MODEL, then llmledger reprice."));
  }

  function renderModels() {
    var rows = modelRows();
    ns.tables.render(
      byId("models-table"),
      [
        { key: "model", label: "Model", name: true, format: page.nameWithBadge },
        { key: "requests", label: "Requests", numeric: true, format: fmt.integer },
        { key: "tokens", label: "Tokens", numeric: true, format: fmt.compact },
        { key: "cost", label: "Cost", numeric: true, format: page.costCell },
        { key: "share", label: "Share", format: shareBar },
      ],
      rows,
      "No usage in this window."
    );
    renderUnpriced(rows);
    ns.exports.register("models", function () {
      return {
        name: "llmledger-models-" + page.query.year,
        columns: ["model", "requests", "tokens", "cost", "unpriced", "share"],
        rows: modelRows(),
      };
    });
  }

  function renderCache() {
    var days = page.windowDays();
    var chart = byId("cache-chart");
    var ratioOf = function (date) {
      return page.cacheRatio(page.byDate[date]);
    };
    if (!days.length) {
      ns.charts.empty(chart, "No usage in " + page.query.year + " for this window.");
    } else {
      ns.charts.ratioLine(chart, {
        days: days,
        ratios: days.map(ratioOf),
        label: "Cache hit ratio per day",
        describe: function (date) {
          var ratio = ratioOf(date);
          return [fmt.longDate(date), ratio === null ? "No prompt" : fmt.percent(ratio) + " of the prompt from the cache"];
        },
      });
    }
    ns.exports.register("cache", function () {
      return {
        name: "llmledger-cache-" + page.query.year,
        columns: ["date", "inputTokens", "cacheReadTokens", "cacheCreationTokens", "cacheHitRatio"],
        rows: page.graph.contributions.map(function (day) {
          var parts = day.tokenBreakdown;
          return {
            date: day.date,
            inputTokens: parts.input,
            cacheReadTokens: parts.cacheRead,
            cacheCreationTokens: parts.cacheWrite,
            cacheHitRatio: page.cacheRatio(day) || 0,
          };
        }),
      };
    });
  }

  ns.panels = ns.panels || {};
  ns.panels.charts = { renderDaily: renderDaily, renderModels: renderModels, renderCache: renderCache };
})((window.llmledger = window.llmledger || {}));
