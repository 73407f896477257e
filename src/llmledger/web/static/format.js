/* Numbers, money and dates as the dashboard shows them; DOM helpers. */
(function (ns) {
  "use strict";

  var SVG_NS = "http://www.w3.org/2000/svg";
  var longDate = new Intl.DateTimeFormat("en-US", {
    timeZone: "UTC",
    weekday: "long",
    year: "numeric",
    month: "long",
    day: "numeric",
  });
  var shortDate = new Intl.DateTimeFormat("en-US", { timeZone: "UTC", month: "short", day: "numeric" });
  var monthName = new Intl.DateTimeFormat("en-US", { timeZone: "UTC", month: "short" });

  function cost(value) {
    var number = Number(value) || 0;
    if (number > 0 && number < 0.01) {
      return "$" + number.toFixed(4);
    }
    return "$" + number.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  }

  function integer(value) {
    return Math.round(Number(value) || 0).toLocaleString("en-US");
  }

  function compact(value) {
    var number = Number(value) || 0;
    var units = [
      [1e12, "T"],
      [1e9, "B"],
      [1e6, "M"],
      [1e3, "K"],
    ];
    for (var i = 0; i < units.length; i++) {
      if (Math.abs(number) >= units[i][0]) {
        var scaled = number / units[i][0];
        return (scaled >= 100 ? scaled.toFixed(0) : scaled.toFixed(1).replace(/\.0$/, "")) + units[i][1];
      }
    }
    return String(Math.round(number));
  }

  function percent(ratio) {
    return ((Number(ratio) || 0) * 100).toFixed(1) + "%";
  }

  function metric(value, which) {
    return which === "cost" ? cost(value) : compact(value) + " tokens";
  }

  /* Dates are "YYYY-MM-DD" strings in the ledger's zone: computed as UTC days. */
  function parseDay(text) {
    var parts = text.split("-");
    return Date.UTC(Number(parts[0]), Number(parts[1]) - 1, Number(parts[2]));
  }

  function dayString(ms) {
    return new Date(ms).toISOString().slice(0, 10);
  }

  function addDays(text, days) {
    return dayString(parseDay(text) + days * 86400000);
  }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    setAttrs(node, attrs);
    if (text !== undefined && text !== null) {
      node.textContent = String(text);
    }
    return node;
  }

  function svg(tag, attrs, text) {
    var node = document.createElementNS(SVG_NS, tag);
    setAttrs(node, attrs);
    if (text !== undefined && text !== null) {
      node.textContent = String(text);
    }
    return node;
  }

  function setAttrs(node, attrs) {
    if (!attrs) {
      return;
    }
    Object.keys(attrs).forEach(function (name) {
      var value = attrs[name];
      if (value !== undefined && value !== null && value !== false) {
        node.setAttribute(name, value === true ? "" : String(value));
      }
    });
  }

  function clear(node) {
    while (node.firstChild) {
      node.removeChild(node.firstChild);
    }
    return node;
  }

  ns.fmt = {
    cost: cost,
    integer: integer,
    compact: compact,
    percent: percent,
    metric: metric,
    longDate: function (text) {
      return longDate.format(parseDay(text));
    },
    shortDate: function (text) {
      return shortDate.format(parseDay(text));
    },
    monthName: function (month) {
      return monthName.format(Date.UTC(2001, month, 1));
    },
  };
  ns.days = { parse: parseDay, string: dayString, add: addDays };
  ns.dom = { el: el, svg: svg, clear: clear };
})((window.llmledger = window.llmledger || {}));
