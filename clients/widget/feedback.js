/*
 * feedback-rpc widget: thumbs-up / thumbs-down under a chat answer.
 * Dependency-free. Served by feedback-gateway at /widget/feedback.js. See clients/widget/README.md.
 *
 *   <div id="rate-42"></div>
 *   <script src="https://feedback.example.com/widget/feedback.js"></script>
 *   <script>
 *     FeedbackWidget.mount(document.getElementById("rate-42"), {
 *       interactionId: 42,
 *       getToken: () => myApp.currentJwt(),   // or token: "eyJ..."
 *     });
 *   </script>
 */
(function (global) {
  "use strict";

  var scriptOrigin = (function () {
    var script = document.currentScript;
    try {
      return script && script.src ? new URL(script.src, document.baseURI).origin : global.location.origin;
    } catch (e) {
      return global.location.origin;
    }
  })();

  var STYLE_ID = "feedback-widget-style";
  var CSS = [
    ".fbw{display:inline-flex;align-items:center;gap:.5em;font:14px/1.4 system-ui,sans-serif;color:#333}",
    ".fbw button{display:inline-flex;font-size:1.25em;line-height:1;padding:.3em .5em;border:1px solid #bbb;border-radius:.4em;background:#fff;color:#555;cursor:pointer}",
    ".fbw button:hover{background:#f2f2f2}",
    ".fbw button:focus-visible{outline:3px solid #1a73e8;outline-offset:2px}",
    ".fbw button[aria-pressed=true]{background:#e3efff;border-color:#1a73e8;color:#1a73e8}",
    ".fbw[aria-busy=true] button{cursor:progress}",
    ".fbw-status{min-width:12em}",
    ".fbw-status[data-state=error]{color:#b00020}",
    ".fbw-status[data-state=saved]{color:#1b5e20}",
  ].join("");

  var MESSAGES = {
    saving: "Saving…",
    saved: "Thanks, your rating is saved.",
    retrying: "Feedback service busy, retrying…",
    401: "Please sign in again to rate this answer.",
    403: "You are not allowed to rate this answer.",
    404: "This answer can no longer be rated.",
    422: "That rating could not be accepted.",
    429: "Too many ratings right now; try again shortly.",
    unavailable: "Couldn't save your rating. Please try again later.",
    failed: "Couldn't save your rating.",
  };

  function injectStyle() {
    if (document.getElementById(STYLE_ID)) return;
    var style = document.createElement("style");
    style.id = STYLE_ID;
    style.textContent = CSS;
    document.head.appendChild(style);
  }

  function sleep(ms) {
    return new Promise(function (resolve) { setTimeout(resolve, ms); });
  }

  // Material Design "thumb_up" (Apache-2.0); thumbs-down is the same path turned over. An SVG renders
  // everywhere, unlike emoji on machines without an emoji font.
  var THUMB = "M1 21h4V9H1v12zm22-11c0-1.1-.9-2-2-2h-6.31l.95-4.57.03-.32c0-.41-.17-.79-.44-1.06L14.17 1 " +
    "7.59 7.59C7.22 7.95 7 8.45 7 9v10c0 1.1.9 2 2 2h9c.83 0 1.54-.5 1.84-1.22l3.02-7.05c.09-.23.14-.47.14-.73v-2z";

  function thumbIcon(down) {
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("width", "1em");
    svg.setAttribute("height", "1em");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    if (down) svg.setAttribute("transform", "rotate(180)");
    var path = document.createElementNS(ns, "path");
    path.setAttribute("d", THUMB);
    path.setAttribute("fill", "currentColor");
    svg.appendChild(path);
    return svg;
  }

  function makeButton(label, value) {
    var button = document.createElement("button");
    button.type = "button";
    button.className = "fbw-" + (value > 0 ? "up" : "down");
    button.setAttribute("aria-pressed", "false");
    button.setAttribute("aria-label", label);
    button.title = label;
    button.dataset.rating = String(value);
    button.appendChild(thumbIcon(value < 0));
    return button;
  }

  /**
   * Puts the widget into `element`.
   * options: interactionId (required), token or getToken (sync or async), endpoint (default: the
   * gateway that served this script), retries (503/504/network, default 3), initialRating (1 / -1),
   * onChange(rating), onError(status).
   * Returns {element, rating(), destroy()}.
   */
  function mount(element, options) {
    if (!element) throw new Error("FeedbackWidget.mount: no element");
    options = options || {};
    if (options.interactionId === undefined || options.interactionId === null) {
      throw new Error("FeedbackWidget.mount: interactionId is required");
    }
    injectStyle();
    var endpoint = (options.endpoint || scriptOrigin).replace(/\/$/, "") + "/feedback";
    var maxRetries = options.retries === undefined ? 3 : options.retries;
    var current = options.initialRating === 1 || options.initialRating === -1 ? options.initialRating : 0;
    var generation = 0;

    var root = document.createElement("div");
    root.className = "fbw";
    root.setAttribute("role", "group");
    root.setAttribute("aria-label", "Rate this answer");
    var up = makeButton("Good answer", 1);
    var down = makeButton("Bad answer", -1);
    var status = document.createElement("span");
    status.className = "fbw-status";
    status.setAttribute("role", "status");
    status.setAttribute("aria-live", "polite");
    root.appendChild(up);
    root.appendChild(down);
    root.appendChild(status);
    element.appendChild(root);

    function render() {
      up.setAttribute("aria-pressed", String(current === 1));
      down.setAttribute("aria-pressed", String(current === -1));
      root.dataset.rating = String(current);
    }

    function show(state, text) {
      status.dataset.state = state;
      status.textContent = text;
      root.dataset.state = state;
    }

    function token() {
      if (typeof options.getToken === "function") return Promise.resolve(options.getToken());
      return Promise.resolve(options.token);
    }

    function post(rating, jwt) {
      return fetch(endpoint, {
        method: "POST",
        mode: "cors",
        credentials: "omit",
        headers: { "Content-Type": "application/json", "Authorization": "Bearer " + (jwt || "") },
        body: JSON.stringify({ interaction_id: options.interactionId, rating: rating }),
      }).then(function (response) { return response.status; }, function () { return 0; });
    }

    function submit(rating) {
      var mine = ++generation;
      var previous = current;
      current = rating;
      render();
      show("saving", MESSAGES.saving);
      // The buttons stay enabled (disabling would drop keyboard focus); a newer click supersedes.
      root.setAttribute("aria-busy", "true");
      var attempt = 0;
      function tryOnce() {
        return token().then(function (jwt) { return post(rating, jwt); }).then(function (code) {
          var retryable = code === 0 || code === 503 || code === 504 || code === 429;
          if (retryable && attempt < maxRetries && mine === generation) {
            attempt += 1;
            show("retrying", MESSAGES.retrying);
            return sleep(400 * Math.pow(2, attempt - 1) + Math.random() * 200).then(tryOnce);
          }
          return code;
        });
      }
      return tryOnce().then(function (code) {
        if (mine !== generation) return;
        root.removeAttribute("aria-busy");
        if (code === 204 || code === 200) {
          show("saved", MESSAGES.saved);
          if (options.onChange) options.onChange(rating);
          return;
        }
        current = previous;
        render();
        var text = MESSAGES[code] || (code === 0 || code === 503 || code === 504 ? MESSAGES.unavailable : MESSAGES.failed);
        show("error", text);
        root.dataset.httpStatus = String(code);
        if (options.onError) options.onError(code);
      });
    }

    function onClick(event) {
      var value = Number(event.currentTarget.dataset.rating);
      submit(value);
    }
    up.addEventListener("click", onClick);
    down.addEventListener("click", onClick);
    render();

    return {
      element: root,
      rating: function () { return current; },
      submit: submit,
      destroy: function () { generation += 1; root.remove(); },
    };
  }

  /** Mounts a widget on every element with data-feedback-interaction-id under `scope`. */
  function mountAll(scope, options) {
    var nodes = (scope || document).querySelectorAll("[data-feedback-interaction-id]");
    return Array.prototype.map.call(nodes, function (node) {
      var merged = {};
      for (var key in options) merged[key] = options[key];
      merged.interactionId = Number(node.getAttribute("data-feedback-interaction-id"));
      return mount(node, merged);
    });
  }

  global.FeedbackWidget = { mount: mount, mountAll: mountAll, version: "1" };
})(window);
