/*
 * Tables built from rows (text only: names from logs never become markup), and the CSV / JSON
 * export buttons of each panel: they download exactly the rows the panel shows.
 */
(function (ns) {
  "use strict";

  var dom = ns.dom;

  /*
   * columns: [{key, label, numeric, format(value, row)}]; rows: objects (row.rowClass: a
   * class for the <tr>); empty: text when there are no rows.
   */
  function render(table, columns, rows, empty) {
    dom.clear(table);
    var head = dom.el("thead");
    var headRow = dom.el("tr");
    columns.forEach(function (column) {
      headRow.appendChild(dom.el("th", { scope: "col", class: column.numeric ? "num" : null }, column.label));
    });
    head.appendChild(headRow);
    table.appendChild(head);
    var body = dom.el("tbody");
    if (!rows.length) {
      var row = dom.el("tr");
      row.appendChild(dom.el("td", { class: "empty", colspan: columns.length }, empty || "Nothing in this window."));
      body.appendChild(row);
    }
    rows.forEach(function (data) {
      var tr = dom.el("tr", { class: data.rowClass || null });
      columns.forEach(function (column) {
        var value = data[column.key];
        var cell = dom.el("td", {
          class: column.numeric ? "num" : column.name ? "name" : null,
          "data-key": column.key,
          "data-value": value === undefined || value === null ? "" : typeof value === "object" ? JSON.stringify(value) : value,
        });
        var shown = column.format ? column.format(value, data) : value;
        if (shown instanceof Node) {
          cell.appendChild(shown);
        } else {
          cell.textContent = shown === undefined || shown === null ? "" : String(shown);
          if (column.name) {
            cell.title = cell.textContent;
          }
        }
        tr.appendChild(cell);
      });
      body.appendChild(tr);
    });
    table.appendChild(body);
  }

  /* -- exports ------------------------------------------------------------------------------ */

  var sources = {};

  function csvCell(value) {
    if (value === undefined || value === null) {
      return "";
    }
    var text = Array.isArray(value) ? value.join(" ") : typeof value === "object" ? JSON.stringify(value) : String(value);
    return /[",\n\r]/.test(text) ? '"' + text.replace(/"/g, '""') + '"' : text;
  }

  function toCsv(table) {
    var lines = [table.columns.map(csvCell).join(",")];
    table.rows.forEach(function (row) {
      lines.push(
        table.columns
          .map(function (name) {
            return csvCell(row[name]);
          })
          .join(",")
      );
    });
    return lines.join("\n") + "\n";
  }

  function download(name, text, type) {
    var url = URL.createObjectURL(new Blob([text], { type: type }));
    var link = dom.el("a", { href: url, download: name });
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(function () {
      URL.revokeObjectURL(url);
    }, 1000);
  }

  /* provide() -> {name, columns: [field names], rows: [objects]} (what the panel shows). */
  function register(panel, provide) {
    sources[panel] = provide;
    var holder = document.querySelector('[data-export="' + panel + '"]');
    if (!holder || holder.childNodes.length) {
      return;
    }
    ["CSV", "JSON"].forEach(function (kind) {
      var button = dom.el("button", { type: "button", "data-format": kind.toLowerCase(), "aria-label": "Export " + panel + " as " + kind }, kind);
      button.addEventListener("click", function () {
        var table = sources[panel]();
        if (kind === "CSV") {
          download(table.name + ".csv", toCsv(table), "text/csv");
        } else {
          download(table.name + ".json", JSON.stringify(table.rows, null, 2) + "\n", "application/json");
        }
      });
      holder.appendChild(button);
    });
  }

  ns.tables = { render: render };
  ns.exports = { register: register, toCsv: toCsv, table: function (panel) { return sources[panel] ? sources[panel]() : null; } };
})((window.llmledger = window.llmledger || {}));
