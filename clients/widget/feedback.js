/*
 * feedback-rpc widget: thumbs-up / thumbs-down under a chat answer.
 * One dependency-free classic script (ES2020), no build step. Served by feedback-gateway at
 * /widget/feedback.js. Attributes, options, CSS custom properties and messages: clients/widget/README.md.
 *
 *   <h2 id="q-42">How do I reverse a list?</h2> ...
 *   <div data-feedback-interaction-id="42" data-feedback-rating="1" data-feedback-labelledby="q-42"></div>
 *   <script src="https://feedback.example.com/widget/feedback.js"></script>
 *   <script>FeedbackWidget.mountAll(document, { getToken: () => myApp.currentJwt() });</script>
 */
(() => {
  "use strict";

  // Where this script came from: the gateway to post to unless `endpoint` says otherwise.
  const scriptOrigin = (() => {
    const src = document.currentScript?.src;
    try {
      return src ? new URL(src, document.baseURI).origin : location.origin;
    } catch {
      return location.origin;
    }
  })();

  // The CSP nonce this script was loaded with, if any: the widget's <style> carries it, so that a page
  // whose policy allows styles only by nonce (style-src 'nonce-...') shows the widget styled.
  const scriptNonce = document.currentScript?.nonce || "";

  const DEFAULTS = {
    retries: 3, // retries of 429 (and, with waitFor 0, of 502/503/504 and network errors), with backoff
    waitFor: 60000, // ms a rating is kept while the service answers 502/503/504 or the browser is offline; 0: retries only
    timeout: 8000, // ms per request (AbortController); 0: none
    statusTimeout: 4000, // ms the "saved" message stays; 0: until the next click
    errorTimeout: 0, // ms an error message stays; 0: until the next click
  };

  // Every text the widget shows or announces; `options.messages` overrides any of them (translations).
  const MESSAGES = {
    up: "Good answer",
    down: "Bad answer",
    label: "Rate answer {n}", // the group's name when the host names nothing ({n}: 1, 2, ... on the page)
    labelPrefix: "Rate answer:", // before the text of the elements data-feedback-labelledby names
    saving: "Saving…",
    retryingBusy: "The feedback service is busy, retrying…",
    retryingNetwork: "Connection problem, retrying…",
    waiting: "The feedback service is unavailable right now. Your rating will be sent as soon as it's back.",
    waitingOffline: "You're offline. Your rating will be sent once you're connected.",
    saved: "Thanks, your rating is saved.",
    offline: "You're offline, so your rating wasn't saved. Try again once you're connected.",
    network: "Couldn't reach the feedback service, so your rating wasn't saved. Please try again.",
    timeout: "The feedback service didn't answer in time. Please try again.",
    busy: "The feedback service is busy right now. Please try again in a moment.",
    "rate-limited": "Too many ratings right now. Please try again shortly.",
    unauthorized: "Please sign in again to rate this answer.",
    "no-token": "Sign in to rate this answer.",
    "not-found": "This answer can no longer be rated.",
    failed: "Sorry, your rating couldn't be saved.",
  };

  // The outcome of one response, by status (README.md's status table).
  const outcomeOf = (status) => {
    if (status === 200 || status === 204) return "saved";
    if (status === 502 || status === 503 || status === 504) return "busy";
    if (status === 429) return "rate-limited";
    if (status === 401 || status === 403) return "unauthorized";
    if (status === 404) return "not-found";
    return "failed"; // 400, 413, 422, 500, ...
  };
  const RETRIED = new Set(["busy", "rate-limited", "network"]);
  // Outcomes that mean the service is away for now (the gateway answered 502/503/504) or the browser is
  // offline: the rating is kept and sent when it is back, for up to `waitFor` ms. A fetch that fails while
  // online ("network") is not among them: from script it looks the same as a refused origin (CORS) or a
  // wrong endpoint, which waiting does not mend; it gets `retries`.
  const UNAVAILABLE = new Set(["busy", "offline"]);

  // Theming: hosts set the public --feedback-* properties (on :root, a container or .fbw); the private
  // --fbw-* ones hold them or the default of the colour scheme in force.
  const LIGHT = [
    "--fbw-fg:var(--feedback-fg,#333)",
    "--fbw-bg:var(--feedback-bg,#fff)",
    "--fbw-border:var(--feedback-border,#767676)",
    "--fbw-hover-bg:var(--feedback-hover-bg,#f1f3f4)",
    "--fbw-accent:var(--feedback-accent,#1558b0)",
    "--fbw-accent-bg:var(--feedback-accent-bg,#e3efff)",
    "--fbw-focus:var(--feedback-focus,#1a73e8)",
    "--fbw-error:var(--feedback-error,#b00020)",
    "--fbw-success:var(--feedback-success,#1b5e20)",
  ].join(";");
  const DARK = [
    "--fbw-fg:var(--feedback-fg,#e8eaed)",
    "--fbw-bg:var(--feedback-bg,#2d2e31)",
    "--fbw-border:var(--feedback-border,#9aa0a6)",
    "--fbw-hover-bg:var(--feedback-hover-bg,#3c4043)",
    "--fbw-accent:var(--feedback-accent,#8ab4f8)",
    "--fbw-accent-bg:var(--feedback-accent-bg,#1c3a5e)",
    "--fbw-focus:var(--feedback-focus,#8ab4f8)",
    "--fbw-error:var(--feedback-error,#f28b82)",
    "--fbw-success:var(--feedback-success,#81c995)",
  ].join(";");

  const STYLE_ID = "feedback-widget-style";
  const CSS = `
.fbw{${LIGHT};--fbw-size:max(24px,var(--feedback-size,32px));display:flex;flex-wrap:wrap;align-items:center;gap:.5em;max-width:100%;box-sizing:border-box;font:var(--feedback-font,14px/1.4 system-ui,sans-serif);color:var(--fbw-fg)}
@media (prefers-color-scheme:dark){.fbw:not([data-theme=light]){${DARK}}}
.fbw[data-theme=dark]{${DARK}}
@media (pointer:coarse){.fbw{--fbw-size:max(44px,var(--feedback-size,44px));gap:.75em}.fbw button{font-size:1.5em}}
.fbw button{display:inline-flex;align-items:center;justify-content:center;box-sizing:border-box;min-width:var(--fbw-size);min-height:var(--fbw-size);margin:0;padding:.25em .5em;font:inherit;font-size:1.25em;line-height:1;border:1px solid var(--fbw-border);border-radius:var(--feedback-radius,.4em);background:var(--fbw-bg);color:var(--fbw-fg);cursor:pointer;touch-action:manipulation}
@media (hover:hover){.fbw button:hover{background:var(--fbw-hover-bg)}}
.fbw button:focus-visible{outline:3px solid var(--fbw-focus);outline-offset:2px}
.fbw button[aria-pressed=true]{background:var(--fbw-accent-bg);border-color:var(--fbw-accent);color:var(--fbw-accent);box-shadow:inset 0 0 0 1px var(--fbw-accent)}
.fbw[aria-busy=true] button{cursor:progress}
.fbw-status{flex:1 1 12em;min-width:0;overflow-wrap:anywhere}
.fbw-status[data-state=error]{color:var(--fbw-error)}
.fbw-status[data-state=saved]{color:var(--fbw-success)}
@media (forced-colors:active){.fbw button[aria-pressed=true]{forced-color-adjust:none;background:Highlight;border-color:Highlight;color:HighlightText}}
`;

  function injectStyle() {
    if (document.getElementById(STYLE_ID)) return;
    const style = document.createElement("style");
    style.id = STYLE_ID;
    if (scriptNonce) style.setAttribute("nonce", scriptNonce);
    style.textContent = CSS;
    // First in <head>: a host rule of the same specificity (say `.fbw button`) comes later and wins.
    document.head.prepend(style);
  }

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  // A callback that throws is reported, and leaves the widget working.
  const call = (callback, ...args) => {
    try {
      callback?.(...args);
    } catch (error) {
      setTimeout(() => {
        throw error;
      });
    }
  };

  /**
   * The interaction id as a canonical decimal string: read from the DOM as text, never through a JS
   * number, which holds integers exactly only up to 2^53 - 1.
   */
  function canonicalId(value) {
    if (typeof value === "number") {
      if (!Number.isSafeInteger(value)) {
        throw new Error("FeedbackWidget: interactionId " + value + " is not a safe integer (pass ids past 2^53 - 1 as strings)");
      }
      return String(value);
    }
    if (typeof value === "bigint") return value.toString();
    const match = typeof value === "string" ? /^\s*([+-]?)0*(\d+)\s*$/.exec(value) : null;
    if (!match) throw new Error("FeedbackWidget: interactionId must be an integer, got " + JSON.stringify(String(value)));
    return (match[1] === "-" && match[2] !== "0" ? "-" : "") + match[2];
  }

  // In the JSON body: a number literal while it is a safe integer, the decimal string above (the gateway
  // reads a numeric string as the same integer, exactly).
  const jsonId = (id) => (Number.isSafeInteger(Number(id)) ? Number(id) : id);

  const parseRating = (value) => {
    const rating = Number(value);
    return rating === 1 || rating === -1 ? rating : 0;
  };

  // The body's `detail`: a string, or pydantic's list of errors; null when there is none.
  async function readDetail(response) {
    if (response.status === 204) return null;
    try {
      const detail = (await response.json())?.detail;
      if (typeof detail === "string") return detail;
      if (Array.isArray(detail)) return detail.map((error) => error?.msg ?? JSON.stringify(error)).join("; ");
    } catch {
      // not JSON
    }
    return null;
  }

  // Material Design "thumb_up" (Apache-2.0); thumbs-down is the same path turned over. An SVG renders
  // everywhere, unlike emoji on machines without an emoji font.
  const THUMB = "M1 21h4V9H1v12zm22-11c0-1.1-.9-2-2-2h-6.31l.95-4.57.03-.32c0-.41-.17-.79-.44-1.06L14.17 1 " +
    "7.59 7.59C7.22 7.95 7 8.45 7 9v10c0 1.1.9 2 2 2h9c.83 0 1.54-.5 1.84-1.22l3.02-7.05c.09-.23.14-.47.14-.73v-2z";

  function thumbIcon(down) {
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    for (const [name, value] of [["viewBox", "0 0 24 24"], ["width", "1em"], ["height", "1em"],
      ["aria-hidden", "true"], ["focusable", "false"]]) {
      svg.setAttribute(name, value);
    }
    if (down) svg.setAttribute("transform", "rotate(180)");
    const path = document.createElementNS(ns, "path");
    path.setAttribute("d", THUMB);
    path.setAttribute("fill", "currentColor");
    svg.appendChild(path);
    return svg;
  }

  function makeButton(label, value) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = value > 0 ? "fbw-up" : "fbw-down";
    button.setAttribute("aria-pressed", "false");
    button.setAttribute("aria-label", label);
    button.title = label;
    button.dataset.rating = String(value);
    button.appendChild(thumbIcon(value < 0));
    return button;
  }

  let mounted = 0; // widgets mounted on this page: numbers the default names, which so never repeat
  const widgets = new WeakMap(); // host element -> its widget

  // A host element's data-feedback-NAME, or undefined.
  const attribute = (element, name) => element.getAttribute("data-feedback-" + name) ?? undefined;

  class Widget {
    constructor(host, options) {
      const id = options.interactionId ?? attribute(host, "interaction-id");
      if (id === undefined || id === null) throw new Error("FeedbackWidget.mount: interactionId is required");
      this.interactionId = canonicalId(id);
      this.host = host;
      this.options = options;
      this.messages = { ...MESSAGES, ...options.messages };
      this.endpoint = String(options.endpoint ?? scriptOrigin).replace(/\/+$/, "") + "/feedback";
      this.retries = options.retries ?? DEFAULTS.retries;
      this.waitFor = options.waitFor ?? DEFAULTS.waitFor;
      this.timeout = options.timeout ?? DEFAULTS.timeout;
      this.statusTimeout = options.statusTimeout ?? DEFAULTS.statusTimeout;
      this.errorTimeout = options.errorTimeout ?? DEFAULTS.errorTimeout;
      this.saved = parseRating(options.initialRating ?? attribute(host, "rating")); // last rating stored
      this.current = this.saved; // what the buttons show
      this.generation = 0; // bumped by every click and by destroy(): older work stops
      this.queue = Promise.resolve(); // the request before this one: ratings are sent one at a time
      this.controller = null;
      this.clearTimer = 0;
      this.number = ++mounted;

      const root = document.createElement("div");
      root.className = "fbw";
      root.setAttribute("role", "group");
      const theme = options.theme ?? attribute(host, "theme");
      if (theme === "light" || theme === "dark") root.dataset.theme = theme;
      this.element = root;
      this.up = makeButton(this.messages.up, 1);
      this.down = makeButton(this.messages.down, -1);
      this.status = document.createElement("span");
      this.status.className = "fbw-status";
      this.status.setAttribute("role", "status");
      this.status.setAttribute("aria-live", "polite");
      this.status.setAttribute("aria-atomic", "true");
      this.nameGroup(options.label ?? attribute(host, "label"), options.labelledBy ?? attribute(host, "labelledby"));
      root.append(this.up, this.down, this.status);
      host.appendChild(root);

      const onClick = (event) => this.submit(Number(event.currentTarget.dataset.rating));
      this.up.addEventListener("click", onClick);
      this.down.addEventListener("click", onClick);
      root.dataset.state = "idle";
      this.render();
    }

    // The group's accessible name: the host's label; else "Rate answer:" and the text of the elements it
    // names (the answer's heading); else "Rate answer N". Never one name for every widget of a page.
    nameGroup(label, labelledBy) {
      if (label) {
        this.element.setAttribute("aria-label", label);
        return;
      }
      const ids = String(labelledBy ?? "").split(/\s+/).filter((id) => id && document.getElementById(id));
      if (ids.length) {
        const prefix = document.createElement("span");
        prefix.id = "fbw-" + this.number + "-name";
        prefix.hidden = true;
        prefix.textContent = this.messages.labelPrefix;
        this.element.appendChild(prefix);
        this.element.setAttribute("aria-labelledby", [prefix.id, ...ids].join(" "));
        return;
      }
      this.element.setAttribute("aria-label", this.messages.label.replace("{n}", String(this.number)));
    }

    rating() {
      return this.current;
    }

    render() {
      this.up.setAttribute("aria-pressed", String(this.current === 1));
      this.down.setAttribute("aria-pressed", String(this.current === -1));
      this.element.dataset.rating = String(this.current);
    }

    // The status line (an aria-live region) and data-state; the text clears after `clearAfter` ms.
    show(state, text, clearAfter = 0) {
      clearTimeout(this.clearTimer);
      this.element.dataset.state = state;
      this.status.dataset.state = state;
      this.status.textContent = text;
      if (clearAfter > 0) {
        this.clearTimer = setTimeout(() => {
          this.status.textContent = "";
          delete this.status.dataset.state;
        }, clearAfter);
      }
    }

    setHTTPStatus(status) {
      if (status) this.element.dataset.httpStatus = String(status);
      else delete this.element.dataset.httpStatus;
    }

    /** Saves `rating` (1 or -1) now; resolves once the outcome is shown. A later click supersedes it. */
    submit(rating) {
      if (rating !== 1 && rating !== -1) throw new RangeError("FeedbackWidget: rating must be 1 or -1");
      const mine = ++this.generation;
      this.current = rating;
      this.render();
      this.setHTTPStatus(0);
      delete this.element.dataset.outcome;
      // The buttons stay enabled (disabling would drop keyboard focus); the group is marked busy.
      this.element.setAttribute("aria-busy", "true");
      this.show("saving", this.messages.saving);
      // One request at a time, so that the last click is the rating stored; a superseded one is never sent.
      const run = this.queue.then(() => (mine === this.generation ? this.attempts(rating, mine) : null));
      this.queue = run.catch(() => null);
      return run.then((result) => {
        if (result && mine === this.generation) this.finish(rating, result);
      }, (error) => {
        if (mine === this.generation) this.finish(rating, { outcome: "failed", status: 0, detail: String(error) });
      });
    }

    async attempts(rating, mine) {
      const keepUntil = Date.now() + this.waitFor;
      for (let attempt = 0; ; attempt += 1) {
        const result = await this.post(rating);
        if (result.outcome === "saved") this.saved = rating; // stored, even if a newer click supersedes it
        if (result.outcome === "aborted" || mine !== this.generation) return null;
        this.setHTTPStatus(result.status);
        const pause = Math.min(400 * 2 ** attempt, 5000) + Math.random() * 200;
        if (this.waitFor > 0 && UNAVAILABLE.has(result.outcome)) {
          // Kept: sent again until the service answers, or `waitFor` has passed (then the error shows).
          if (Date.now() + pause > keepUntil) return result;
          const offline = result.outcome === "offline";
          this.show("waiting", offline ? this.messages.waitingOffline : this.messages.waiting);
          await (offline ? this.untilOnline(keepUntil) : sleep(pause));
        } else {
          if (!RETRIED.has(result.outcome) || attempt >= this.retries) return result;
          const retrying = result.outcome === "network" ? this.messages.retryingNetwork : this.messages.retryingBusy;
          this.show("retrying", retrying);
          await sleep(pause);
        }
        if (mine !== this.generation) return null;
      }
    }

    // Resolves when the browser says it is online again, or at `until` (epoch ms).
    untilOnline(until) {
      return new Promise((resolve) => {
        const done = () => {
          window.removeEventListener("online", done);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(done, Math.max(0, until - Date.now()));
        window.addEventListener("online", done);
      });
    }

    // One request. {outcome, status (0 without a response), detail}.
    async post(rating) {
      let token;
      try {
        token = await (typeof this.options.getToken === "function" ? this.options.getToken() : this.options.token);
      } catch (error) {
        return { outcome: "unauthorized", status: 0, detail: "getToken failed: " + (error?.message ?? error) };
      }
      // No token (nobody signed in): nothing to send; the user is asked to sign in.
      if (token === undefined || token === null || token === "") return { outcome: "no-token", status: 0, detail: null };
      const controller = new AbortController();
      this.controller = controller;
      let timedOut = false;
      const timer = this.timeout > 0 ? setTimeout(() => {
        timedOut = true;
        controller.abort();
      }, this.timeout) : 0;
      try {
        const response = await fetch(this.endpoint, {
          method: "POST",
          mode: "cors",
          credentials: "omit",
          headers: { "Content-Type": "application/json", Authorization: "Bearer " + (token ?? "") },
          body: JSON.stringify({ interaction_id: jsonId(this.interactionId), rating }),
          signal: controller.signal,
        });
        const detail = await readDetail(response);
        return { outcome: outcomeOf(response.status), status: response.status, detail };
      } catch (error) {
        if (timedOut) return { outcome: "timeout", status: 0, detail: null };
        if (controller.signal.aborted) return { outcome: "aborted", status: 0, detail: null };
        // fetch rejects without a response: no network, DNS, TLS, CORS refused, connection reset.
        const outcome = navigator.onLine === false ? "offline" : "network";
        return { outcome, status: 0, detail: error?.message ?? null };
      } finally {
        clearTimeout(timer);
        if (this.controller === controller) this.controller = null;
      }
    }

    finish(rating, { outcome, status, detail }) {
      this.element.removeAttribute("aria-busy");
      this.element.dataset.outcome = outcome;
      if (outcome === "saved") {
        this.saved = rating;
        this.show("saved", this.messages.saved, this.statusTimeout);
        call(this.options.onChange, rating, this);
        return;
      }
      this.current = this.saved;
      this.render();
      const message = this.messages[outcome] ?? this.messages.failed;
      this.show("error", message, this.errorTimeout);
      call(this.options.onError, status, { outcome, detail, message, widget: this });
    }

    destroy() {
      this.generation += 1;
      this.controller?.abort();
      clearTimeout(this.clearTimer);
      this.element.remove();
      if (widgets.get(this.host) === this) widgets.delete(this.host);
    }
  }

  /**
   * Puts a widget into `element` (replacing one mounted there before) and returns it:
   * {element, interactionId, rating(), submit(rating), destroy()}. Options (README.md) win over the
   * element's data-feedback-* attributes.
   */
  function mount(element, options = {}) {
    if (!element) throw new Error("FeedbackWidget.mount: no element");
    injectStyle();
    widgets.get(element)?.destroy();
    const widget = new Widget(element, options ?? {});
    widgets.set(element, widget);
    return widget;
  }

  /**
   * Mounts a widget on every element with data-feedback-interaction-id under `scope`; one already
   * mounted is kept, so calling it again after new answers arrive mounts only those. An element that
   * cannot be mounted (its id is not an integer) is skipped, and every other one mounted all the same:
   * each is reported on the console (console.error) and listed in the returned array's `failed`, as
   * {element, error}.
   */
  function mountAll(scope = document, options = {}) {
    const nodes = (scope ?? document).querySelectorAll("[data-feedback-interaction-id]");
    const mountedWidgets = [];
    const failed = [];
    for (const node of nodes) {
      try {
        mountedWidgets.push(widgets.get(node) ?? mount(node, {
          ...options,
          interactionId: node.getAttribute("data-feedback-interaction-id"),
        }));
      } catch (error) {
        failed.push({ element: node, error });
        console.error("FeedbackWidget.mountAll: element not mounted:", error?.message ?? error, node);
      }
    }
    mountedWidgets.failed = failed;
    return mountedWidgets;
  }

  window.FeedbackWidget = { mount, mountAll, version: "2", messages: Object.freeze({ ...MESSAGES }) };
})();
