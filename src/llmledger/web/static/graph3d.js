/*
 * The contribution graph in isometric 3D: the same grid of days laid on the floor, each day a
 * bar whose height follows the chosen measure (cost or tokens, to scale: the year's biggest
 * day is the tallest bar) and whose color is its level. Drawn back to front.
 */
(function (ns) {
  "use strict";

  var dom = ns.dom;
  var SIDE = 8;
  var HW = SIDE * Math.cos(Math.PI / 6); /* half a tile's width on screen */
  var HH = SIDE * Math.sin(Math.PI / 6); /* half its height */
  var MAX_HEIGHT = 70;
  var PAD = 12;

  function point(x, y) {
    return x.toFixed(2) + "," + y.toFixed(2);
  }

  function value(contribution, metric) {
    if (!contribution) {
      return 0;
    }
    return metric === "tokens" ? contribution.totals.tokens : contribution.totals.cost;
  }

  function render(container, options) {
    var grid = ns.graph2d.layout(options.year);
    var max = 0;
    grid.days.forEach(function (day) {
      max = Math.max(max, value(options.byDate[day.date], options.metric));
    });
    var minX = -7 * HW - PAD - 28; /* room for the month labels on the left edge */
    var maxX = (grid.columns - 1) * HW + HW + PAD;
    var minY = -MAX_HEIGHT - PAD;
    var maxY = (grid.columns - 1 + 6) * HH + 2 * HH + PAD + 14;
    var root = dom.svg("svg", {
      viewBox: [minX, minY, maxX - minX, maxY - minY].map(function (n) {
        return n.toFixed(1);
      }).join(" "),
      role: "group",
      "aria-label": "Usage per day in " + options.year + " as 3D bars, height by " + options.metric,
      "data-year": options.year,
      "data-metric": options.metric,
    });
    var ordered = grid.days.slice().sort(function (a, b) {
      return a.column + a.row - (b.column + b.row) || a.column - b.column;
    });
    ordered.forEach(function (day) {
      var contribution = options.byDate[day.date];
      var amount = value(contribution, options.metric);
      var z = max > 0 && amount > 0 ? Math.max(1.5, (amount / max) * MAX_HEIGHT) : 0;
      var x = (day.column - day.row) * HW;
      var y = (day.column + day.row) * HH;
      var bar = dom.svg("g", {
        class: "bar" + (day.date === options.selected ? " selected" : ""),
        tabindex: -1,
        role: "button",
        "data-date": day.date,
        "data-level": ns.graph2d.level(contribution, options.metric),
        "data-height": z.toFixed(2),
        "aria-label": options.describe(day.date).join(", "),
      });
      if (z > 0) {
        bar.appendChild(
          dom.svg("polygon", {
            class: "left",
            points: [point(x - HW, y + HH - z), point(x, y + 2 * HH - z), point(x, y + 2 * HH), point(x - HW, y + HH)].join(" "),
          })
        );
        bar.appendChild(
          dom.svg("polygon", {
            class: "right",
            points: [point(x, y + 2 * HH - z), point(x + HW, y + HH - z), point(x + HW, y + HH), point(x, y + 2 * HH)].join(" "),
          })
        );
      }
      bar.appendChild(
        dom.svg("polygon", {
          class: "top",
          points: [point(x, y - z), point(x + HW, y + HH - z), point(x, y + 2 * HH - z), point(x - HW, y + HH - z)].join(" "),
        })
      );
      root.appendChild(bar);
    });
    var lastLabel = -10;
    grid.days.forEach(function (day) {
      if (day.dayOfMonth === 1 && day.column - lastLabel >= 3) {
        var x = (day.column - 7) * HW;
        var y = (day.column + 7) * HH + 8;
        root.appendChild(dom.svg("text", { class: "graph-label", x: x, y: y, "text-anchor": "end" }, ns.fmt.monthName(day.month)));
        lastLabel = day.column;
      }
    });
    dom.clear(container).appendChild(root);
    var bound = ns.cells.bind(root, {
      selector: ".bar[data-date]",
      describe: options.describe,
      onSelect: options.onSelect,
      step: ns.cells.calendarStep,
    });
    bound.setTabStop(options.selected);
    return root;
  }

  ns.graph3d = { render: render };
})((window.llmledger = window.llmledger || {}));
