/*
 * The shared tooltip, and what both graph views do with their day cells: a tooltip on hover
 * and on focus, a click (or Enter / Space) selects the day, arrow keys move between days
 * (one tab stop for the whole graph).
 */
(function (ns) {
  "use strict";

  var dom = ns.dom;

  function tooltipNode() {
    return document.getElementById("tooltip");
  }

  function showTooltip(lines, x, y) {
    var tip = tooltipNode();
    if (!tip || !lines || !lines.length) {
      return;
    }
    dom.clear(tip);
    tip.appendChild(dom.el("strong", null, lines[0]));
    for (var i = 1; i < lines.length; i++) {
      tip.appendChild(dom.el("div", null, lines[i]));
    }
    tip.hidden = false;
    var width = tip.offsetWidth;
    var height = tip.offsetHeight;
    var left = Math.min(Math.max(8, x + 12), window.innerWidth - width - 8);
    var top = y - height - 12;
    if (top < 8) {
      top = y + 16;
    }
    tip.style.left = left + "px";
    tip.style.top = top + "px";
  }

  function hideTooltip() {
    var tip = tooltipNode();
    if (tip) {
      tip.hidden = true;
    }
  }

  /*
   * options: selector (the day elements, each with data-date), describe(date) -> lines,
   * onSelect(date), step(date, key) -> the date an arrow key moves to.
   */
  function bind(container, options) {
    var cells = {};
    var nodes = container.querySelectorAll(options.selector);
    Array.prototype.forEach.call(nodes, function (node) {
      cells[node.getAttribute("data-date")] = node;
    });

    function cellOf(target) {
      var node = target && target.closest ? target.closest(options.selector) : null;
      return node && container.contains(node) ? node : null;
    }

    function focusDay(date) {
      var node = cells[date];
      if (!node) {
        return;
      }
      Array.prototype.forEach.call(nodes, function (other) {
        other.setAttribute("tabindex", "-1");
      });
      node.setAttribute("tabindex", "0");
      node.focus();
    }

    container.addEventListener("mousemove", function (event) {
      var node = cellOf(event.target);
      if (node) {
        showTooltip(options.describe(node.getAttribute("data-date")), event.clientX, event.clientY);
      } else {
        hideTooltip();
      }
    });
    container.addEventListener("mouseleave", hideTooltip);
    container.addEventListener("click", function (event) {
      var node = cellOf(event.target);
      if (node) {
        options.onSelect(node.getAttribute("data-date"));
      }
    });
    container.addEventListener("focusin", function (event) {
      var node = cellOf(event.target);
      if (node) {
        var box = node.getBoundingClientRect();
        showTooltip(options.describe(node.getAttribute("data-date")), box.right, box.top);
      }
    });
    container.addEventListener("focusout", hideTooltip);
    container.addEventListener("keydown", function (event) {
      var node = cellOf(event.target);
      if (!node) {
        return;
      }
      var date = node.getAttribute("data-date");
      if (event.key === "Enter" || event.key === " ") {
        event.preventDefault();
        options.onSelect(date);
        return;
      }
      var next = options.step(date, event.key);
      if (next && cells[next]) {
        event.preventDefault();
        focusDay(next);
      }
    });

    return {
      cells: cells,
      setTabStop: function (date) {
        var node = cells[date] || nodes[0];
        if (node) {
          node.setAttribute("tabindex", "0");
        }
      },
    };
  }

  /* Arrow keys over a calendar laid out in week columns: up/down a day, left/right a week. */
  function calendarStep(date, key) {
    var moves = { ArrowUp: -1, ArrowDown: 1, ArrowLeft: -7, ArrowRight: 7 };
    return key in moves ? ns.days.add(date, moves[key]) : null;
  }

  ns.cells = { bind: bind, calendarStep: calendarStep, showTooltip: showTooltip, hideTooltip: hideTooltip };
})((window.llmledger = window.llmledger || {}));
