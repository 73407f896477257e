/* Hand-made SVG charts: stacked bars per day, and a ratio (0-100 %) per day. */
(function (ns) {
  "use strict";

  var dom = ns.dom;
  /* Drawn at the container's width in pixels, so labels keep their size on any screen. */
  var WIDTH = 800;
  var HEIGHT = 240;
  var M = { left: 58, right: 10, top: 10, bottom: 26 };

  function measure(container) {
    WIDTH = Math.max(280, Math.round(container.clientWidth || 800));
    HEIGHT = Math.round(Math.min(280, Math.max(180, WIDTH * 0.3)));
  }

  /* A round step for at most five gridlines, and the top it reaches. */
  function niceScale(value) {
    if (!(value > 0)) {
      return { top: 1, step: 0.25 };
    }
    var raw = value / 5;
    var power = Math.pow(10, Math.floor(Math.log10(raw)));
    var steps = [1, 2, 2.5, 5, 10];
    var step = 10 * power;
    for (var i = 0; i < steps.length; i++) {
      if (raw <= steps[i] * power) {
        step = steps[i] * power;
        break;
      }
    }
    return { top: Math.ceil(value / step - 1e-9) * step, step: step };
  }

  function frame(container, label) {
    measure(container);
    return dom.svg("svg", {
      viewBox: "0 0 " + WIDTH + " " + HEIGHT,
      width: WIDTH,
      height: HEIGHT,
      role: "img",
      "aria-label": label,
    });
  }

  function yAxis(root, scale, format) {
    var plotHeight = HEIGHT - M.top - M.bottom;
    var lines = Math.round(scale.top / scale.step);
    for (var i = 0; i <= lines; i++) {
      var y = M.top + plotHeight - (plotHeight * i) / lines;
      root.appendChild(dom.svg("line", { class: "gridline", x1: M.left, x2: WIDTH - M.right, y1: y, y2: y }));
      root.appendChild(
        dom.svg("text", { class: "axis", x: M.left - 6, y: y + 3, "text-anchor": "end" }, format(scale.step * i))
      );
    }
  }

  function xLabels(root, days, slot) {
    var every = Math.max(1, Math.ceil(days.length / 10));
    var monthly = days.length > 45;
    var lastX = -Infinity;
    var room = monthly ? 30 : 46; /* pixels a label needs */
    days.forEach(function (date, index) {
      var first = date.slice(8) === "01";
      if ((monthly && first) || (!monthly && index % every === 0)) {
        var x = M.left + slot * index + slot / 2;
        if (x - lastX < room) {
          return;
        }
        lastX = x;
        var text = monthly ? ns.fmt.monthName(Number(date.slice(5, 7)) - 1) : ns.fmt.shortDate(date);
        root.appendChild(dom.svg("text", { class: "axis", x: x, y: HEIGHT - 8, "text-anchor": "middle" }, text));
      }
    });
  }

  function hoverColumns(root, days, slot, describe) {
    days.forEach(function (date, index) {
      var column = dom.svg("rect", {
        class: "hover-column",
        x: M.left + slot * index,
        y: M.top,
        width: slot,
        height: HEIGHT - M.top - M.bottom,
        "data-date": date,
      });
      root.appendChild(column);
    });
    root.addEventListener("mousemove", function (event) {
      var date = event.target.getAttribute && event.target.getAttribute("data-date");
      if (date) {
        ns.cells.showTooltip(describe(date), event.clientX, event.clientY);
      } else {
        ns.cells.hideTooltip();
      }
    });
    root.addEventListener("mouseleave", ns.cells.hideTooltip);
  }

  /*
   * options: days (dates), series ([{key, label, index, values: [number per day]}]),
   * format(value), label, describe(date) -> tooltip lines.
   */
  function stackedBars(container, options) {
    var days = options.days;
    var totals = days.map(function (_, index) {
      return options.series.reduce(function (sum, series) {
        return sum + series.values[index];
      }, 0);
    });
    var scale = niceScale(Math.max.apply(null, totals.concat([0])));
    var top = scale.top;
    var root = frame(container, options.label);
    yAxis(root, scale, options.format);
    var plotHeight = HEIGHT - M.top - M.bottom;
    var slot = (WIDTH - M.left - M.right) / Math.max(days.length, 1);
    var barWidth = Math.max(1, slot * 0.78);
    days.forEach(function (date, index) {
      var y = M.top + plotHeight;
      var group = dom.svg("g", { class: "day-bar", "data-date": date, "data-total": totals[index] });
      options.series.forEach(function (series) {
        var amount = series.values[index];
        if (!(amount > 0)) {
          return;
        }
        var height = (amount / top) * plotHeight;
        y -= height;
        group.appendChild(
          dom.svg("rect", {
            class: "series-" + series.index,
            x: (M.left + slot * index + (slot - barWidth) / 2).toFixed(2),
            y: y.toFixed(2),
            width: barWidth.toFixed(2),
            height: Math.max(height, 0.5).toFixed(2),
            "data-series": series.key,
            "data-value": amount,
          })
        );
      });
      root.appendChild(group);
    });
    xLabels(root, days, slot);
    hoverColumns(root, days, slot, options.describe);
    dom.clear(container).appendChild(root);
  }

  /* options: days, ratios (0..1, or null for a day without a prompt), label, describe */
  function ratioLine(container, options) {
    var days = options.days;
    var root = frame(container, options.label);
    yAxis(root, { top: 1, step: 0.25 }, function (value) {
      return Math.round(value * 100) + "%";
    });
    var plotHeight = HEIGHT - M.top - M.bottom;
    var slot = (WIDTH - M.left - M.right) / Math.max(days.length, 1);
    var points = [];
    days.forEach(function (date, index) {
      var ratio = options.ratios[index];
      if (ratio === null || ratio === undefined) {
        return;
      }
      points.push({ x: M.left + slot * index + slot / 2, y: M.top + plotHeight * (1 - ratio), date: date, ratio: ratio });
    });
    if (points.length) {
      var line = points.map(function (p, i) {
        return (i ? "L" : "M") + p.x.toFixed(2) + " " + p.y.toFixed(2);
      });
      var base = (M.top + plotHeight).toFixed(2);
      var area = line.join(" ") + " L" + points[points.length - 1].x.toFixed(2) + " " + base + " L" + points[0].x.toFixed(2) + " " + base + " Z";
      root.appendChild(dom.svg("path", { class: "ratio-area", d: area }));
      root.appendChild(dom.svg("path", { class: "ratio-line", d: line.join(" ") }));
      var radius = days.length > 120 ? 1.2 : days.length > 40 ? 2 : 3;
      points.forEach(function (p) {
        root.appendChild(
          dom.svg("circle", { class: "ratio-point", cx: p.x.toFixed(2), cy: p.y.toFixed(2), r: radius, "data-date": p.date, "data-ratio": p.ratio })
        );
      });
    }
    xLabels(root, days, slot);
    hoverColumns(root, days, slot, options.describe);
    dom.clear(container).appendChild(root);
  }

  function empty(container, message) {
    dom.clear(container).appendChild(dom.el("p", { class: "empty-chart" }, message));
  }

  ns.charts = { stackedBars: stackedBars, ratioLine: ratioLine, empty: empty, niceScale: niceScale };
})((window.llmledger = window.llmledger || {}));
