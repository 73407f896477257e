/*
 * The contribution graph in 2D: a year of days in GitHub's grid, one column per week (Sunday
 * on top), month labels above and Mon / Wed / Fri on the left. A cell's level (0-4) comes
 * from the data: by cost ("intensity") or by tokens ("tokenIntensity").
 */
(function (ns) {
  "use strict";

  var dom = ns.dom;
  var CELL = 11;
  var STEP = 14;
  var LEFT = 30;
  var TOP = 18;
  var WEEKDAYS = { 1: "Mon", 3: "Wed", 5: "Fri" };

  /* Where each day of ``year`` sits: its column (week) and row (weekday). */
  function layout(year) {
    var first = Date.UTC(year, 0, 1);
    var offset = new Date(first).getUTCDay();
    var count = (Date.UTC(year + 1, 0, 1) - first) / 86400000;
    var days = [];
    for (var i = 0; i < count; i++) {
      var ms = first + i * 86400000;
      days.push({
        date: ns.days.string(ms),
        column: Math.floor((i + offset) / 7),
        row: (i + offset) % 7,
        month: new Date(ms).getUTCMonth(),
        dayOfMonth: new Date(ms).getUTCDate(),
      });
    }
    return { days: days, columns: Math.floor((count - 1 + offset) / 7) + 1 };
  }

  function level(contribution, metric) {
    if (!contribution) {
      return 0;
    }
    return metric === "tokens" ? contribution.tokenIntensity || 0 : contribution.intensity || 0;
  }

  /*
   * options: year, byDate (date -> contribution), metric, selected, describe(date),
   * onSelect(date)
   */
  function render(container, options) {
    var grid = layout(options.year);
    var width = LEFT + grid.columns * STEP;
    var height = TOP + 7 * STEP;
    var root = dom.svg("svg", {
      viewBox: "0 0 " + width + " " + height,
      role: "group",
      "aria-label": "Usage per day in " + options.year + " by " + options.metric,
      "data-year": options.year,
      "data-metric": options.metric,
    });
    var lastLabel = -10;
    grid.days.forEach(function (day) {
      if (day.dayOfMonth === 1 && day.column - lastLabel >= 3) {
        var x = LEFT + day.column * STEP;
        root.appendChild(dom.svg("text", { class: "graph-label", x: x, y: 10 }, ns.fmt.monthName(day.month)));
        lastLabel = day.column;
      }
    });
    Object.keys(WEEKDAYS).forEach(function (row) {
      root.appendChild(
        dom.svg("text", { class: "graph-label", x: 0, y: TOP + Number(row) * STEP + 9 }, WEEKDAYS[row])
      );
    });
    grid.days.forEach(function (day) {
      var contribution = options.byDate[day.date];
      var cell = dom.svg("rect", {
        class: "day" + (day.date === options.selected ? " selected" : ""),
        x: LEFT + day.column * STEP,
        y: TOP + day.row * STEP,
        width: CELL,
        height: CELL,
        rx: 2,
        tabindex: -1,
        role: "button",
        "data-date": day.date,
        "data-level": level(contribution, options.metric),
        "data-cost": contribution ? contribution.totals.cost : 0,
        "data-tokens": contribution ? contribution.totals.tokens : 0,
        "aria-label": options.describe(day.date).join(", "),
      });
      root.appendChild(cell);
    });
    dom.clear(container).appendChild(root);
    var bound = ns.cells.bind(root, {
      selector: ".day[data-date]",
      describe: options.describe,
      onSelect: options.onSelect,
      step: ns.cells.calendarStep,
    });
    bound.setTabStop(options.selected);
    return root;
  }

  ns.graph2d = { render: render, layout: layout, level: level };
})((window.llmledger = window.llmledger || {}));
