/*
 * Where the page's data comes from: the dashboard's JSON endpoints (api/dashboard/<view>), or,
 * in a report written by `llmledger html`, the data embedded in the file. Both are keyed by
 * the same spelling of the query (Python's DashboardQuery.canonical: names sorted, values
 * encoded as urllib's quote_plus does).
 */
(function (ns) {
  "use strict";

  function readJson(id) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  var config = readJson("llmledger-config") || {};
  var embedded = readJson("llmledger-data");

  function quotePlus(text) {
    return encodeURIComponent(text)
      .replace(/[!'()*]/g, function (c) {
        return "%" + c.charCodeAt(0).toString(16).toUpperCase();
      })
      .replace(/%20/g, "+");
  }

  function canonical(params) {
    var pairs = [];
    Object.keys(params)
      .sort()
      .forEach(function (name) {
        var value = params[name];
        var values = Array.isArray(value) ? value : [value];
        values.forEach(function (item) {
          if (item !== undefined && item !== null && item !== "") {
            pairs.push(quotePlus(name) + "=" + quotePlus(String(item)));
          }
        });
      });
    return pairs.join("&");
  }

  function key(view, params) {
    return view + "?" + canonical(params);
  }

  function load(view, params) {
    var name = key(view, params);
    if (embedded) {
      var views = embedded.views || {};
      if (Object.prototype.hasOwnProperty.call(views, name)) {
        return Promise.resolve(views[name]);
      }
      return Promise.reject(new Error("this report file does not hold " + name));
    }
    return getJson((config.api || "api/dashboard/") + name);
  }

  /* GET a JSON answer with the page's credentials (auth.js, on a gateway); a refusal is an
     Error whose .status is the HTTP status and whose message is the server's. */
  function getJson(url) {
    var auth = window.llmledgerAuth;
    var accept = { Accept: "application/json" };
    return fetch(url, {
      headers: auth ? auth.headers(accept) : accept,
      credentials: "same-origin",
    }).then(function (response) {
      return response.json().then(
        function (body) {
          if (!response.ok) {
            var message = body && body.error ? body.error.message : response.statusText;
            var error = new Error(message || "HTTP " + response.status);
            error.status = response.status;
            throw error;
          }
          return body;
        },
        function () {
          var error = new Error("HTTP " + response.status + " from " + url);
          error.status = response.status;
          throw error;
        }
      );
    });
  }

  ns.data = { config: config, embedded: embedded, key: key, load: load, canonical: canonical, getJson: getJson };
})((window.llmledger = window.llmledger || {}));
