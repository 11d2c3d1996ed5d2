// The playground's start-up: GraphiQL over the service's /query, served
// with the page (no inline script, so the page's Content-Security-Policy
// can allow scripts from the server only). The settings come from the
// page's <script id="playground-config" type="application/json">.
(function () {
  'use strict';
  var config = JSON.parse(document.getElementById('playground-config').textContent);
  var url = new URL(config.endpoint, window.location.href).toString();
  var prefix = config.storagePrefix;

  // GraphiQL keeps its tabs, queries and (with shouldPersistHeaders) the
  // headers tab in this storage: localStorage under the service's prefix.
  var storage = {
    getItem: function (key) { return window.localStorage.getItem(prefix + key); },
    setItem: function (key, value) { window.localStorage.setItem(prefix + key, value); },
    removeItem: function (key) { window.localStorage.removeItem(prefix + key); },
    clear: function () {
      var keys = [];
      for (var i = 0; i < window.localStorage.length; i++) {
        var k = window.localStorage.key(i);
        if (k !== null && k.indexOf(prefix) === 0) keys.push(k);
      }
      keys.forEach(function (k) { window.localStorage.removeItem(k); });
    },
    get length() {
      var n = 0;
      for (var i = 0; i < window.localStorage.length; i++) {
        var k = window.localStorage.key(i);
        if (k !== null && k.indexOf(prefix) === 0) n++;
      }
      return n;
    }
  };

  var base = GraphiQL.createFetcher({ url: url });
  // GraphiQL fetches the schema again only when its fetcher changes, and
  // sends the headers tab with that request: a new fetcher when the headers
  // change makes the explorer work as soon as a key is pasted.
  function newFetcher() {
    return function (params, opts) { return base(params, opts); };
  }

  var root = ReactDOM.createRoot(document.getElementById('graphiql'));
  var fetcher = newFetcher();
  var lastHeaders = null;
  var timer = null;

  function render() {
    root.render(React.createElement(GraphiQL, {
      fetcher: fetcher,
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: true,
      // defaultHeaders, not headers: a headers prop would replace what the
      // headers tab kept across reloads.
      defaultHeaders: config.defaultHeaders,
      defaultQuery: config.defaultQuery,
      storage: storage,
      inputValueDeprecation: true,
      onEditHeaders: function (headers) {
        if (headers === lastHeaders) return;
        lastHeaders = headers;
        clearTimeout(timer);
        timer = setTimeout(function () {
          try { JSON.parse(headers || '{}'); } catch (e) { return; }
          fetcher = newFetcher();
          render();
        }, 300);
      }
    }));
  }
  render();
})();
