/*
 * The dashboard page: loads the year's graph data for the window and filters asked for (the
 * URL's, or those fixed in an `llmledger html` report), has every panel drawn from it, and
 * wires the controls: year, source, time zone and dates, measure, view, theme.
 */
(function (ns) {
  "use strict";

  var dom = ns.dom;
  var page = ns.page;
  var panels = ns.panels;
  var config = page.config;
  var query = page.query;
  var byId = page.byId;

  function syncUrl() {
    if (page.isStatic || !window.history.replaceState) {
      return;
    }
    var params = page.graphParams();
    if (params.tz === config.defaultTimezone) {
      params.tz = "";
    }
    var search = ns.data.canonical(params);
    window.history.replaceState(null, "", window.location.pathname + (search ? "?" + search : ""));
  }

  function setStatus(text) {
    byId("status").textContent = text;
  }

  function showError(error) {
    var box = byId("error");
    box.textContent = "Could not load the data: " + (error && error.message ? error.message : error);
    box.hidden = false;
    setStatus("");
    document.documentElement.setAttribute("data-loading", "false");
  }

  function mark(name) {
    if (window.performance.mark) {
      window.performance.mark(name);
    }
  }

  function refresh() {
    var token = ++page.loading;
    var started = window.performance.now();
    document.documentElement.setAttribute("data-loading", "true");
    setStatus("Loading " + query.year + "…");
    byId("error").hidden = true;
    return ns.data
      .load("graph", page.graphParams())
      .then(function (graph) {
        if (token !== page.loading) {
          return null;
        }
        var years = graph.meta.availableYears || [];
        if (!graph.contributions.length && !query.yearChosen && years.length && years.indexOf(query.year) < 0) {
          query.year = years[years.length - 1]; /* nothing this year: the latest year with usage */
          query.yearChosen = true;
          return refresh();
        }
        mark("llmledger-data"); /* the data is here: drawing starts */
        page.setGraph(graph);
        if (page.selected && page.selected.slice(0, 4) !== String(query.year)) {
          page.selected = null;
        }
        syncUrl();
        renderAll();
        var seconds = (window.performance.now() - started) / 1000;
        setStatus(
          graph.contributions.length +
            (graph.contributions.length === 1 ? " day" : " days") +
            " with usage in " +
            query.year +
            " · time zone " +
            graph.meta.timezone +
            (page.isStatic ? "" : " · loaded in " + seconds.toFixed(2) + " s")
        );
        document.documentElement.setAttribute("data-loading", "false");
        if (!document.documentElement.hasAttribute("data-ready")) {
          document.documentElement.setAttribute("data-ready", "true");
          mark("llmledger-ready");
        }
        panels.lists.loadSessions(token);
        panels.lists.loadAdmin(token);
        if (panels.operators) {
          panels.operators.load(token);
        }
        if (panels.limits) {
          panels.limits.load(token);
        }
        return null;
      })
      .catch(function (error) {
        if (config.signIn && (error.status === 401 || error.status === 403)) {
          askToSignIn(error.message);
          return;
        }
        showError(error);
      });
  }

  /* -- signing in (a gateway: the views need a ledger key or the admin token) ------------ */

  function askToSignIn(message) {
    page.loading++;
    byId("sign-in").hidden = false;
    byId("signed-in").hidden = true;
    byId("admin-panel").hidden = true;
    byId("limits-panel").hidden = true;
    var note = byId("sign-in-error");
    note.hidden = !message;
    note.textContent = message || "";
    setStatus("Sign in to see your usage.");
    document.documentElement.setAttribute("data-loading", "false");
    document.documentElement.setAttribute("data-signed-in", "false");
  }

  /* Who the credentials name (api/dashboard/access), then the data they may see. Asked
     without a token too: a reverse proxy in [server] trusted_proxies may name the user. */
  function checkAccess() {
    var auth = window.llmledgerAuth;
    setStatus("Signing in…");
    return ns.data
      .getJson((config.api || "api/dashboard/") + "access")
      .then(function (access) {
        config.admin = Boolean(access.admin);
        auth.setRole(access.admin ? "admin" : "user");
        if (window.llmledgerMeter) {
          window.llmledgerMeter.restart(); /* the meter of a user's token; none for the admin */
        }
        byId("sign-in").hidden = true;
        byId("sign-in-error").hidden = true;
        byId("signed-in").hidden = false;
        byId("signed-in-as").textContent = access.admin ? "Admin: every user" : "Signed in as " + access.user;
        byId("admin-panel").hidden = !config.admin;
        document.documentElement.setAttribute("data-signed-in", access.admin ? "admin" : "user");
        return refresh();
      })
      .catch(function (error) {
        if (!auth.token() && error.status === 401) {
          askToSignIn(""); /* nobody signed in yet */
          return;
        }
        askToSignIn(error.status ? error.message : "Could not reach the gateway: " + error.message);
      });
  }

  function setupSignIn() {
    var auth = window.llmledgerAuth;
    if (!config.signIn || !auth) {
      return;
    }
    byId("sign-in-form").addEventListener("submit", function (event) {
      event.preventDefault();
      var field = byId("sign-in-token");
      auth.set(field.value, byId("sign-in-remember").checked); /* fires auth-changed */
      field.value = "";
    });
    byId("sign-out").addEventListener("click", function () {
      auth.clear();
    });
    document.addEventListener("llmledger:auth-changed", checkAccess);
  }

  function renderAll() {
    renderControls();
    renderYearNav();
    panels.graph.render();
    panels.graph.renderStats();
    panels.graph.renderDay();
    panels.charts.renderDaily();
    panels.charts.renderModels();
    panels.charts.renderCache();
    renderFooter();
  }

  function renderControls() {
    var select = byId("control-source");
    var sources = page.isStatic ? config.sources || [] : page.graph.meta.availableSources || [];
    while (select.options.length > 1) {
      select.remove(1);
    }
    sources.forEach(function (name) {
      select.appendChild(dom.el("option", { value: name }, name));
    });
    if (query.source && sources.indexOf(query.source) < 0) {
      select.appendChild(dom.el("option", { value: query.source }, query.source));
    }
    select.value = query.source;
    byId("control-tz").value = query.tz;
    byId("control-since").value = query.since;
    byId("control-until").value = query.until;
  }

  /* The years one can move to: those with usage (and this one); a report file's only. */
  function yearChoices() {
    if (page.isStatic) {
      return config.years || [];
    }
    var years = (page.graph && page.graph.meta.availableYears) || [];
    var all = years.concat([query.year]);
    if (config.today) {
      all.push(Number(config.today.slice(0, 4)));
    }
    var first = Math.min.apply(null, all);
    var last = Math.max.apply(null, all);
    var choices = [];
    for (var year = first; year <= last; year++) {
      choices.push(year);
    }
    return choices;
  }

  function renderYearNav() {
    var choices = yearChoices();
    var at = choices.indexOf(query.year);
    byId("year-label").textContent = String(query.year);
    byId("year-prev").disabled = at <= 0;
    byId("year-next").disabled = at < 0 || at >= choices.length - 1;
  }

  function moveYear(step) {
    var choices = yearChoices();
    var at = choices.indexOf(query.year) + step;
    if (at < 0 || at >= choices.length) {
      return;
    }
    query.year = choices[at];
    query.yearChosen = true;
    refresh();
  }

  function renderFooter() {
    var meta = page.graph.meta;
    var parts = ["llmledger " + (meta.version || ""), "time zone " + meta.timezone];
    parts.push(page.isStatic ? "report written " + (config.generatedAt || meta.generatedAt) : "live from the ledger");
    byId("footer-text").textContent = parts.join(" · ");
  }

  /* -- controls ------------------------------------------------------------------------- */

  function checkRadio(name, value) {
    var input = document.querySelector('input[name="' + name + '"][value="' + value + '"]');
    if (input) {
      input.checked = true;
    }
  }

  function onRadio(name, handler) {
    Array.prototype.forEach.call(document.querySelectorAll('input[name="' + name + '"]'), function (input) {
      input.addEventListener("change", function () {
        if (input.checked) {
          handler(input.value);
        }
      });
    });
  }

  /* A remembered choice (measure, view, stacking) that redraws what depends on it. */
  function preference(name, radio, redraw) {
    checkRadio(radio, page.prefs[name]);
    onRadio(radio, function (value) {
      page.prefs[name] = value;
      page.savePrefs();
      if (page.graph) {
        redraw();
      }
    });
  }

  function setupTheme() {
    var theme = window.llmledgerTheme;
    checkRadio("theme", theme ? theme.get() : "system");
    onRadio("theme", function (value) {
      if (theme) {
        theme.set(value);
      }
    });
  }

  function setupWindow() {
    if (!page.isStatic && Intl.supportedValuesOf) {
      var zones = byId("tz-list");
      Intl.supportedValuesOf("timeZone").forEach(function (zone) {
        zones.appendChild(dom.el("option", { value: zone }));
      });
    }
    if (page.isStatic) {
      ["control-tz", "control-since", "control-until", "control-apply", "control-reset"].forEach(function (id) {
        byId(id).disabled = true;
      });
      var note = byId("controls-note");
      note.hidden = false;
      note.textContent =
        "This report was written by llmledger html; its time zone and dates are fixed (write another for other ones). Source and year can be switched.";
    }
    byId("control-source").addEventListener("change", function () {
      query.source = byId("control-source").value;
      refresh();
    });
    byId("controls").addEventListener("submit", function (event) {
      event.preventDefault();
      if (page.isStatic) {
        return;
      }
      query.tz = byId("control-tz").value.trim() || config.defaultTimezone;
      query.since = byId("control-since").value;
      query.until = byId("control-until").value;
      query.source = byId("control-source").value;
      var first = query.since ? Number(query.since.slice(0, 4)) : -Infinity;
      var last = query.until ? Number(query.until.slice(0, 4)) : Infinity;
      if (query.year < first || query.year > last) {
        query.year = Number((query.until || query.since).slice(0, 4)); /* a year inside the dates */
      }
      query.yearChosen = true;
      refresh();
    });
    byId("control-reset").addEventListener("click", function () {
      query.tz = config.defaultTimezone;
      query.since = "";
      query.until = "";
      query.source = "";
      refresh();
    });
  }

  function setupResize() {
    var lastWidth = window.innerWidth;
    var timer = null;
    window.addEventListener("resize", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        if (page.graph && window.innerWidth !== lastWidth) {
          lastWidth = window.innerWidth;
          panels.charts.renderDaily(); /* charts are drawn at their container's width */
          panels.charts.renderCache();
          panels.graph.scrollToLatest();
        }
      }, 150);
    });
  }

  function setup() {
    setupTheme();
    setupWindow();
    preference("metric", "metric", function () {
      panels.graph.render();
      panels.graph.renderStats();
    });
    preference("view", "view", panels.graph.render);
    preference("dailyMetric", "daily-metric", panels.charts.renderDaily);
    preference("stack", "stack", panels.charts.renderDaily);
    byId("year-prev").addEventListener("click", function () {
      moveYear(-1);
    });
    byId("year-next").addEventListener("click", function () {
      moveYear(1);
    });
    byId("day-close").addEventListener("click", panels.graph.closeDay);
    byId("sessions-more").addEventListener("click", panels.lists.showMore);
    byId("admin-panel").hidden = !config.admin;
    setupResize();
    setupSignIn();
  }

  setup();
  if (config.signIn) {
    checkAccess();
  } else {
    refresh();
  }
})((window.llmledger = window.llmledger || {}));
