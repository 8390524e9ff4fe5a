/* TTMT signal feed: new signals appear at the top without a reload.
 *
 * Listens on the organization's live socket (/ws/orgs/<slug>/live/, the dashboard's) for "signal"
 * events (contract: execution/live/events.py) and prepends each as a row shaped like the page's own.
 * After a dropped connection it reconnects with backoff and says signals may have been missed.
 * Everything is written with textContent: nothing from the server is parsed as HTML.
 */
(function () {
  "use strict";

  const feed = document.getElementById("signal-feed");
  if (!feed || feed.dataset.live !== "1") return;
  const notice = document.getElementById("signal-live");
  const onlySource = feed.dataset.source;
  const LIMIT = 200;
  let attempt = 0;
  let snapshots = 0;

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined) continue;
      if (name === "text") node.textContent = value;
      else if (name === "className") node.className = value;
      else node.setAttribute(name, String(value));
    }
    for (const child of children) if (child) node.append(child);
    return node;
  }

  function url(template, id) {
    return template.replace(/\/0\/$/, `/${encodeURIComponent(id)}/`);
  }

  function time(iso) {
    const date = iso ? new Date(iso) : new Date();
    const pad = (n) => String(n).padStart(2, "0");
    return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${date.toLocaleTimeString([], { hour12: false })}`;
  }

  function outcome(decision) {
    const row = el("div", { "data-testid": `decision-${decision.id}`, "data-outcome": decision.outcome });
    row.append(`${decision.account_name}: `, el("strong", { text: decision.outcome_label }));
    if (decision.code) row.append(" ", el("code", { text: decision.code }));
    if (decision.reason) row.append(" ", el("span", { className: "muted", text: decision.reason }));
    row.append(" ", el("a", { href: url(feed.dataset.decisionUrl, decision.id), text: "trace" }));
    return row;
  }

  function addSignal(signal) {
    if (onlySource && String(signal.source_id) !== onlySource) return;
    if (feed.querySelector(`tr[data-signal="${signal.id}"]`)) return;
    for (const placeholder of feed.querySelectorAll("tr.placeholder")) placeholder.remove();
    const summary = el("div", { "data-testid": "summary" }, el("strong", { text: signal.summary }));
    if (signal.version > 1) summary.append(" ", el("span", { className: "badge", text: `edit ${signal.version}` }));
    const outcomes = el("td", { "data-testid": "outcomes" });
    for (const decision of signal.decisions || []) outcomes.append(outcome(decision));
    if (!(signal.decisions || []).length) {
      outcomes.append(el("span", { className: "muted", text: signal.note || "No route decided." }));
    }
    const row = el(
      "tr",
      { "data-testid": `signal-${signal.id}`, "data-signal": signal.id, className: "fresh" },
      el("td", { className: "muted", text: time(signal.received_at) }),
      el("td", {}, el("a", { href: url(feed.dataset.sourceUrl, signal.source_id), text: signal.source_name })),
      el("td", {}, el("div", { className: "signal-text", text: signal.text }), summary),
      outcomes
    );
    feed.prepend(row);
    while (feed.children.length > LIMIT) feed.lastElementChild.remove();
  }

  function say(text) {
    if (notice) notice.textContent = text;
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const socket = new WebSocket(scheme + location.host + feed.dataset.wsPath);
    socket.addEventListener("open", () => {
      attempt = 0;
    });
    socket.addEventListener("message", (message) => {
      let event;
      try {
        event = JSON.parse(message.data);
      } catch (error) {
        return;
      }
      if (event.type === "snapshot") {
        snapshots += 1;
        say(snapshots > 1 ? "Reconnected: signals received while the connection was down are shown after a reload." : "Live.");
      } else if (event.type === "signal" && event.signal) {
        addSignal(event.signal);
      } else if (event.type === "kick") {
        attempt = -1;
        say("Disconnected: you no longer have access to this organization.");
      }
    });
    socket.addEventListener("close", (event) => {
      if (attempt < 0 || event.code === 4403) return;
      const delay = Math.min(10000, 500 * 2 ** attempt) * (0.8 + Math.random() * 0.4);
      attempt += 1;
      say(`Connection lost, reconnecting in ${Math.ceil(delay / 1000)} s…`);
      setTimeout(connect, delay);
    });
  }

  connect();
})();
