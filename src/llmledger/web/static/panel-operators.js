/*
 * The operators' gateway views (the admin token, on `llmledger serve`): every user's and org's
 * meter this month (the usage API's /api/admin/meters), and each upstream account's health —
 * requests today against its daily cap, whether it rests after failures, and its attempts'
 * errors since the gateway started (api/dashboard/admin/upstreams).
 */
(function (ns) {
  "use strict";

  var fmt = ns.fmt;
  var dom = ns.dom;
  var page = ns.page;
  var byId = page.byId;
  var WARN_AT = 80;

  function meterState(percent) {
    return percent > 100 ? "over" : percent >= WARN_AT ? "warn" : "ok";
  }

  function percentText(percent) {
    var rounded = Math.round(percent * 10) / 10;
    return (Number.isInteger(rounded) ? String(rounded) : rounded.toFixed(1)) + "%";
  }

  /* A meter drawn like the page's own (the usage meter's classes, not its ids). */
  function meterCell(percent, tip) {
    var box = dom.el("div", { class: "usage-meter meter-cell", "data-state": meterState(percent), title: tip });
    var track = dom.el("div", {
      class: "usage-meter-track",
      role: "progressbar",
      "aria-valuemin": "0",
      "aria-valuemax": "100",
      "aria-valuenow": String(Math.min(percent, 100)),
      "aria-label": tip,
    });
    var fill = dom.el("div", { class: "usage-meter-fill" });
    fill.style.width = Math.min(percent, 100) + "%";
    track.appendChild(fill);
    box.appendChild(track);
    return box;
  }

  function amount(value, unit) {
    return unit === "usd" ? fmt.cost(value) : fmt.integer(value);
  }

  /* -- every user's meter -------------------------------------------------------------- */

  var meters = [];

  function meterRows(body) {
    return (body.meters || []).map(function (row) {
      var percent = Math.max(0, Number(row.percent) || 0);
      return {
        rowClass: "state-" + meterState(percent),
        subject: row.subject,
        plan: row.plan || "",
        used: row.used,
        limit: row.limit,
        remaining: row.remaining,
        addOn: row.addOn || 0,
        percent: percent,
        unit: row.unit || "tokens",
        month: row.month || "",
      };
    });
  }

  function renderMeters(body) {
    meters = meterRows(body);
    var total = body.total || meters.length;
    byId("meters-note").textContent = body.error
      ? "Could not load the meters: " + body.error
      : fmt.integer(total) + (total === 1 ? " meter" : " meters") + (meters.length ? " this month (" + meters[0].month + ")" : "") + ", fullest first" + (total > meters.length ? "; the first " + meters.length + " shown." : ".");
    ns.tables.render(
      byId("meters-table"),
      [
        { key: "subject", label: "User or org", name: true },
        { key: "plan", label: "Plan" },
        {
          key: "meter",
          label: "Meter",
          format: function (value, row) {
            var tip = amount(row.used, row.unit) + " / " + amount(row.limit, row.unit) + (row.unit === "usd" ? "" : " tokens");
            return meterCell(row.percent, tip);
          },
        },
        { key: "percent", label: "Used", numeric: true, format: percentText },
        { key: "used", label: "Tokens used", numeric: true, format: fmt.integer },
        { key: "limit", label: "Limit", numeric: true, format: fmt.integer },
        { key: "remaining", label: "Remaining", numeric: true, format: fmt.integer },
      ],
      meters,
      body.error ? "Could not load: " + body.error : "No plans and no usage this month."
    );
    ns.exports.register("meters", function () {
      return {
        name: "llmledger-meters" + (meters.length ? "-" + meters[0].month : ""),
        columns: ["subject", "plan", "used", "limit", "remaining", "addOn", "percent", "unit", "month"],
        rows: meters,
      };
    });
  }

  /* -- upstream account health --------------------------------------------------------- */

  var accounts = [];

  function accountRows(body) {
    return (body.accounts || []).map(function (row) {
      return {
        rowClass: row.state === "ok" ? null : "state-bad",
        account: row.account,
        upstream: row.upstream,
        requestsToday: row.requestsToday,
        dailyCap: row.dailyCap,
        capPercent: row.capPercent,
        state: row.state,
        restingSeconds: row.restingSeconds,
        lastFailure: row.lastFailure || "",
        ok: row.ok,
        errors: row.errors,
      };
    });
  }

  var STATES = { ok: "OK", capped: "At its daily cap", resting: "Resting after failures", "models-resting": "Some models rate limited" };

  function renderUpstreams(body) {
    accounts = accountRows(body);
    byId("upstreams-note").textContent = body.error
      ? "Could not load the accounts: " + body.error
      : "Requests today (UTC) against each account's daily cap; attempts and errors since the gateway started" + (body.startedAt ? " (" + body.startedAt.slice(0, 16).replace("T", " ") + " UTC)" : "") + ".";
    ns.tables.render(
      byId("upstreams-table"),
      [
        { key: "account", label: "Account", name: true },
        {
          key: "requestsToday",
          label: "Today / cap",
          format: function (value, row) {
            if (row.dailyCap === null || row.dailyCap === undefined) {
              return dom.el("span", null, fmt.integer(value) + " (no cap)");
            }
            var tip = fmt.integer(value) + " / " + fmt.integer(row.dailyCap) + " requests today";
            var cell = meterCell(row.capPercent || 0, tip);
            cell.appendChild(dom.el("span", { class: "usage-meter-percent" }, fmt.integer(value) + " / " + fmt.integer(row.dailyCap)));
            return cell;
          },
        },
        {
          key: "state",
          label: "State",
          format: function (value, row) {
            var text = STATES[value] || value;
            return row.restingSeconds ? text + " (" + Math.ceil(row.restingSeconds) + " s)" : text;
          },
        },
        { key: "ok", label: "OK", numeric: true, format: fmt.integer },
        { key: "errors", label: "Errors", numeric: true, format: fmt.integer },
        { key: "lastFailure", label: "Last failure" },
      ],
      accounts,
      body.error ? "Could not load: " + body.error : "No upstream accounts configured."
    );
    ns.exports.register("upstreams", function () {
      return {
        name: "llmledger-upstream-accounts",
        columns: ["account", "upstream", "requestsToday", "dailyCap", "state", "restingSeconds", "ok", "errors", "lastFailure"],
        rows: accounts,
      };
    });
  }

  function load(token) {
    var config = page.config;
    var shown = Boolean(config.signIn && config.admin);
    byId("admin-meters").hidden = !shown;
    byId("admin-upstreams").hidden = !(shown && config.upstreamHealth);
    if (!shown) {
      return;
    }
    var done = function (render) {
      return function (body) {
        if (token === page.loading) {
          render(body);
        }
      };
    };
    var failed = function (render) {
      return function (error) {
        if (token === page.loading) {
          render({ error: error.message });
        }
      };
    };
    ns.data.getJson("api/admin/meters?limit=1000&sort=percent&order=desc").then(done(renderMeters), failed(renderMeters));
    if (config.upstreamHealth) {
      ns.data.getJson((config.api || "api/dashboard/") + "admin/upstreams").then(done(renderUpstreams), failed(renderUpstreams));
    }
  }

  ns.panels = ns.panels || {};
  ns.panels.operators = { load: load, meterCell: meterCell, meterState: meterState, percentText: percentText };
})((window.llmledger = window.llmledger || {}));
