/*
 * The sessions table and the operators' top lists. They read every event of their window (not
 * the hourly sums), so they cover the window's last days with usage only, and load when their
 * panel comes into view.
 */
(function (ns) {
  "use strict";

  var fmt = ns.fmt;
  var page = ns.page;
  var byId = page.byId;
  var SHOWN = 25; /* sessions shown at first, and added by "Show more" */

  var sessions = null;
  var shown = SHOWN;
  var waiting = {};

  function whenVisible(id, load) {
    if (waiting[id]) {
      waiting[id].disconnect();
      delete waiting[id];
    }
    if (!window.IntersectionObserver) {
      load();
      return;
    }
    var observer = new IntersectionObserver(
      function (entries) {
        var seen = entries.some(function (entry) {
          return entry.isIntersecting;
        });
        if (seen) {
          observer.disconnect();
          delete waiting[id];
          load();
        }
      },
      { rootMargin: "300px" }
    );
    waiting[id] = observer;
    observer.observe(byId(id));
  }

  function windowText(params) {
    return "from " + fmt.shortDate(params.since) + " to " + fmt.shortDate(params.until) + ", " + params.until.slice(0, 4);
  }

  /* -- sessions ------------------------------------------------------------------------ */

  function loadSessions(token) {
    sessions = null;
    shown = SHOWN;
    var params = page.recentParams();
    if (!params) {
      sessions = { sessions: [], sessionCount: 0 };
      renderSessions();
      return;
    }
    byId("sessions-note").textContent = "Loading sessions…";
    whenVisible("sessions-panel", function () {
      ns.data
        .load("sessions", params)
        .then(function (body) {
          if (token === page.loading) {
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
    var rows = loaded.slice(0, shown);
    var count = sessions ? sessions.sessionCount || loaded.length : 0;
    var span = sessions && sessions.window ? " " + windowText(sessions.window) : " in " + page.query.year;
    byId("sessions-note").textContent =
      count > rows.length
        ? "The " + rows.length + " most recent of " + fmt.integer(count) + " sessions" + span + "."
        : fmt.integer(count) + (count === 1 ? " session" : " sessions") + span + ", most recent first.";
    var more = byId("sessions-more");
    more.hidden = rows.length >= loaded.length;
    more.textContent = "Show " + Math.min(SHOWN, loaded.length - rows.length) + " more";
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
        { key: "totalCost", label: "Cost", numeric: true, format: page.costCell },
      ],
      rows,
      "No sessions in this window."
    );
    ns.exports.register("sessions", function () {
      return {
        name: "llmledger-sessions-" + page.query.year,
        columns: ["lastActivity", "sessionId", "source", "project", "models", "requests", "totalTokens", "totalCost"],
        rows: sessionRows().slice(0, shown),
      };
    });
  }

  function showMore() {
    shown += SHOWN;
    renderSessions();
  }

  /* -- the operators' lists ----------------------------------------------------------- */

  var LABELS = { user: "User", api_key: "Key", account: "Account", org: "Org" };

  function loadAdmin(token) {
    if (!page.config.admin) {
      return;
    }
    var params = page.recentParams();
    var sections = document.querySelectorAll("[data-top]");
    byId("admin-note").textContent = params
      ? windowText(params).replace(/^f/, "F") + " (the window's last " + page.RECENT_DAYS + " days)."
      : "No usage in this window.";
    if (!params) {
      Array.prototype.forEach.call(sections, function (section) {
        renderTop(section, { rows: [] });
      });
      return;
    }
    whenVisible("admin-panel", function () {
      Array.prototype.forEach.call(sections, function (section) {
        var asked = { tz: params.tz, source: params.source, since: params.since, until: params.until };
        asked.by = section.getAttribute("data-top");
        ns.data
          .load("admin/top", asked)
          .then(function (body) {
            if (token === page.loading) {
              renderTop(section, body);
            }
          })
          .catch(function (error) {
            renderTop(section, { rows: [], error: error.message });
          });
      });
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
        { key: "key", label: LABELS[by] || by, name: true },
        { key: "requests", label: "Requests", numeric: true, format: fmt.integer },
        { key: "totalTokens", label: "Tokens", numeric: true, format: fmt.compact },
        { key: "totalCost", label: "Cost", numeric: true, format: fmt.cost },
      ],
      rows,
      body.error ? "Could not load: " + body.error : "Nothing in this window."
    );
    ns.exports.register("top-" + by, function () {
      return { name: "llmledger-top-" + by + "-" + page.query.year, columns: ["key", "requests", "totalTokens", "totalCost"], rows: rows };
    });
  }

  ns.panels = ns.panels || {};
  ns.panels.lists = { loadSessions: loadSessions, loadAdmin: loadAdmin, showMore: showMore };
})((window.llmledger = window.llmledger || {}));
