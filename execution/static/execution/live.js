/* TTMT live dashboard and header Trading Status indicator.
 *
 * One websocket per page: /ws/orgs/<slug>/live/ (the header indicator alone asks for "?status=1").
 * On connect the server sends a snapshot; events follow (contract: execution/live.py). After a dropped
 * connection the page says it is reconnecting, reconnects with backoff and resyncs from the new snapshot.
 * Everything is written with textContent: nothing from the server is parsed as HTML.
 */
(function () {
  "use strict";

  const dashboard = document.getElementById("live-dashboard");
  const indicator = document.getElementById("trading-status");
  if (!dashboard && !indicator) return;
  const wsPath = (dashboard || indicator).dataset.wsPath;
  const statusOnly = !dashboard;
  const canTrade = Boolean(dashboard && dashboard.dataset.canTrade === "1");
  const FEED_LIMIT = 200;
  const LEVEL_LABEL = { green: "Trading", yellow: "Testing", red: "Paused", unknown: "Trading status" };

  const state = {
    accounts: new Map(), // id -> account
    links: new Map(), // id -> {state, reason}
    positions: new Map(), // id -> [position] | null
    orders: new Map(), // id -> [order] | null
    trades: new Map(), // trade id -> its plan (execution/protection/selectors.py)
    status: null,
    statusReceivedAt: 0,
  };
  let socket = null;
  let attempt = 0;
  let kicked = false;
  let requestSeq = 0;
  const pending = new Map(); // request id -> button

  // -- small DOM helpers ---------------------------------------------------------------------------
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "text") node.textContent = value;
      else if (name === "className") node.className = value;
      else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children) if (child) node.append(child);
    return node;
  }
  const $ = (id) => document.getElementById(id);
  const dash = (value) => (value === null || value === undefined || value === "" ? "–" : String(value));
  function setText(node, value) {
    const text = dash(value);
    if (node.textContent !== text) node.textContent = text;
  }
  function clock(iso) {
    const date = iso ? new Date(iso) : new Date();
    return date.toLocaleTimeString([], { hour12: false });
  }

  // -- connection ----------------------------------------------------------------------------------
  function setConnection(kind, text) {
    const node = $("live-connection");
    if (node) {
      node.dataset.state = kind;
      node.textContent = text;
    }
    if (indicator) indicator.dataset.connection = kind;
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + location.host + wsPath + (statusOnly ? "?status=1" : ""));
    socket.addEventListener("open", () => {
      attempt = 0;
      setConnection("live", "Live");
    });
    socket.addEventListener("message", (message) => {
      try {
        handle(JSON.parse(message.data));
      } catch (error) {
        console.error("live: bad message", error);
      }
    });
    socket.addEventListener("close", (event) => {
      socket = null;
      for (const button of pending.values()) button.disabled = false;
      pending.clear();
      if (kicked || event.code === 4403) {
        setConnection("closed", "Disconnected: you no longer have access to this organization.");
        setLevel("unknown");
        return;
      }
      const delay = Math.min(10000, 500 * 2 ** attempt) * (0.8 + Math.random() * 0.4);
      attempt += 1;
      setConnection("reconnecting", `Connection lost, reconnecting in ${Math.ceil(delay / 1000)} s…`);
      setTimeout(() => {
        setConnection("reconnecting", "Reconnecting…");
        connect();
      }, delay);
    });
  }

  function send(message) {
    if (!socket || socket.readyState !== WebSocket.OPEN) return false;
    socket.send(JSON.stringify(message));
    return true;
  }

  // -- messages ------------------------------------------------------------------------------------
  function handle(message) {
    switch (message.type) {
      case "snapshot":
        return applySnapshot(message);
      case "account":
        state.accounts.set(message.account.id, message.account);
        return renderAccounts();
      case "account_removed":
        for (const map of [state.accounts, state.positions, state.orders, state.links]) map.delete(message.account_id);
        renderAccounts();
        renderPositions();
        return renderOrders();
      case "link":
        state.links.set(message.account_id, { state: message.state, reason: message.reason });
        return renderAccounts();
      case "positions":
        state.positions.set(message.account_id, message.positions);
        return renderPositions();
      case "orders":
        state.orders.set(message.account_id, message.orders);
        return renderOrders();
      case "tick":
        return applyTick(message);
      case "protection":
        return applyProtection(message);
      case "trade":
        if (message.trade) state.trades.set(message.trade.id, message.trade);
        if (message.ended) state.trades.delete(message.ended);
        return renderTrades();
      case "operation":
        return addOperation(message.operation);
      case "safety":
        return addSafety(message.safety);
      case "status":
        return applyStatus(message);
      case "action_result":
        return actionResult(message);
      case "kick":
        kicked = true;
        setConnection("closed", message.reason || "Disconnected.");
        return undefined;
      default:
        return undefined;
    }
  }

  function applySnapshot(snapshot) {
    if (snapshot.status) applyStatus(snapshot.status);
    if (!dashboard) return;
    state.accounts.clear();
    state.positions.clear();
    state.orders.clear();
    for (const account of snapshot.accounts || []) state.accounts.set(account.id, account);
    for (const [id, positions] of Object.entries(snapshot.positions || {})) state.positions.set(Number(id), positions);
    for (const [id, orders] of Object.entries(snapshot.orders || {})) state.orders.set(Number(id), orders);
    state.links.clear();
    for (const [id, link] of Object.entries(snapshot.links || {})) if (link) state.links.set(Number(id), link);
    state.trades.clear();
    for (const trade of snapshot.trades || []) state.trades.set(trade.id, trade);
    renderAccounts();
    renderPositions();
    renderOrders();
    renderTrades();
    const feed = $("live-feed");
    if (feed) {
      feed.replaceChildren();
      const entries = [
        ...(snapshot.operations || []).map((operation) => ({ at: operation.at, operation })),
        ...(snapshot.safety_events || []).map((safety) => ({ at: safety.at, safety })),
      ].sort((a, b) => (a.at < b.at ? -1 : 1));
      for (const entry of entries) entry.operation ? addOperation(entry.operation) : addSafety(entry.safety);
    }
  }

  // -- trading status (header indicator and the dashboard's card) ---------------------------------
  function setLevel(level) {
    if (indicator) {
      indicator.dataset.level = level;
      indicator.querySelector(".label").textContent = LEVEL_LABEL[level] || LEVEL_LABEL.unknown;
    }
    const badge = $("live-status-level");
    if (badge) {
      badge.textContent = LEVEL_LABEL[level] || "–";
      badge.dataset.level = level;
      badge.style.background = { green: "#e6f6ea", yellow: "#fff4d6", red: "#fde8e8" }[level] || "";
    }
  }

  function applyStatus(status) {
    state.status = status;
    state.statusReceivedAt = Date.now();
    renderStatus();
  }

  function accountLine(line) {
    const elapsed = (Date.now() - state.statusReceivedAt) / 1000;
    let text = `${line.name}: `;
    if (line.pause_state === "paused") {
      text += "paused";
      if (line.seconds_to_test !== null && line.seconds_to_test !== undefined) {
        const remaining = Math.max(0, Math.ceil(line.seconds_to_test - elapsed));
        text += remaining > 0 ? `, next test in ${remaining} s` : ", testing shortly";
      }
    } else if (line.pause_state === "testing") {
      text += "testing after a pause";
    } else {
      text += "trading";
    }
    if (line.broker_health === "paused") {
      const left = line.broker_health_seconds_remaining;
      const remaining = left === null || left === undefined ? null : Math.max(0, Math.ceil(left - elapsed));
      text += ` — broker health paused the platform${remaining === null ? "" : ` (${remaining} s left)`}`;
    }
    return text;
  }

  function renderStatus() {
    const status = state.status;
    if (!status) return;
    setLevel(status.level);
    const lines = status.accounts || [];
    const summary = {
      green: "All accounts are trading.",
      yellow: "An account is testing after a pause.",
      red: "Trading is paused on an account or its platform.",
    }[status.level];
    if (indicator) {
      const breakdown = indicator.querySelector(".breakdown");
      const rows = lines.map((line) =>
        el("div", { "data-level": line.level, "data-account": line.account_id, text: accountLine(line) })
      );
      if (!rows.length) rows.push(el("div", { className: "muted", text: "No trading accounts yet." }));
      breakdown.replaceChildren(el("div", { text: summary }), ...rows);
      indicator.title = [summary, ...lines.map(accountLine)].join("\n");
    }
    const text = $("live-status-text");
    if (text) text.textContent = summary || "";
    const list = $("live-status-accounts");
    if (list) {
      list.replaceChildren(
        ...lines.map((line) =>
          el("li", {
            "data-testid": `status-account-${line.account_id}`,
            "data-level": line.level,
            text: accountLine(line),
          })
        )
      );
    }
  }
  setInterval(() => state.status && renderStatus(), 1000);

  // -- accounts --------------------------------------------------------------------------------------
  function renderAccounts() {
    const body = $("live-accounts-body");
    if (!body) return;
    const rows = [];
    for (const account of state.accounts.values()) {
      const link = state.links.get(account.id);
      let connection = account.connection_state;
      if (link && link.state === "down") connection += ` (stream down: ${link.reason})`;
      else if (link && link.state === "up") connection += " (streaming)";
      if (account.connection_error && account.connection_state !== "connected") connection += ` — ${account.connection_error}`;
      const name = el("td", {}, el("span", { text: account.name }));
      if (account.is_live) name.append(" ", el("span", { className: "badge live", text: "LIVE" }));
      rows.push(
        el(
          "tr",
          { "data-testid": `account-${account.id}`, "data-connection": account.connection_state },
          name,
          el("td", { "data-field": "connection", text: connection }),
          el("td", { className: "num", "data-field": "balance", text: dash(account.balance) }),
          el("td", { className: "num", "data-field": "equity", text: dash(account.equity) }),
          el("td", { className: "num", "data-field": "margin", text: dash(account.margin) }),
          el("td", { className: "num", "data-field": "free_margin", text: dash(account.free_margin) }),
          el("td", { text: dash(account.currency) })
        )
      );
    }
    if (!rows.length) rows.push(el("tr", {}, el("td", { colspan: 7, className: "muted", text: "No trading accounts." })));
    body.replaceChildren(...rows);
    renderPositions();
    renderOrders();
  }

  function accountName(id) {
    const account = state.accounts.get(id);
    return account ? account.name : `#${id}`;
  }

  // -- positions and orders (rows are kept, so what someone types in them survives updates) ----------
  function syncRows(body, items, keyOf, build, update) {
    const existing = new Map([...body.children].map((row) => [row.dataset.key, row]));
    const wanted = [];
    for (const item of items) {
      const key = keyOf(item);
      let row = existing.get(key);
      if (!row) {
        row = build(item);
        row.dataset.key = key;
      }
      update(row, item);
      existing.delete(key);
      wanted.push(row);
    }
    for (const row of existing.values()) row.remove();
    wanted.forEach((row, index) => {
      if (body.children[index] !== row) body.insertBefore(row, body.children[index] || null);
    });
  }

  function actionButton(label, testid, message) {
    const button = el("button", { type: "button", "data-testid": testid, text: label });
    button.addEventListener("click", () => {
      const payload = typeof message === "function" ? message() : message;
      if (!payload) return;
      const requestId = `r${++requestSeq}`;
      if (send({ ...payload, request_id: requestId })) {
        button.disabled = true;
        pending.set(requestId, button);
        showResult(`${label}: sent…`);
      } else {
        showResult("Not connected: try again once the page is live.", true);
      }
    });
    return button;
  }

  function positionRow(accountId, position) {
    const cells = ["account", "id", "symbol", "side", "volume", "open_price", "current_price", "sl", "tp", "profit"].map(
      (field) => el("td", { "data-field": field, className: ["id", "symbol", "side", "account"].includes(field) ? "" : "num" })
    );
    const row = el("tr", { "data-testid": `position-${position.id}`, "data-account": accountId }, ...cells);
    if (canTrade) {
      const target = { account_id: accountId, position_id: position.id };
      const volume = el("input", { type: "text", inputmode: "decimal", placeholder: "lots", "data-testid": "close-volume" });
      const sl = el("input", { type: "text", inputmode: "decimal", placeholder: "SL", "data-testid": "sl-input" });
      const tp = el("input", { type: "text", inputmode: "decimal", placeholder: "TP", "data-testid": "tp-input" });
      row.append(
        el(
          "td",
          { className: "actions" },
          el(
            "div",
            {},
            actionButton("Close", "close-position", { action: "close_position", ...target }),
            " ",
            actionButton("Breakeven", "breakeven", { action: "breakeven", ...target }),
            " ",
            volume,
            actionButton("Close part", "close-part", () => {
              if (!volume.value.trim()) return showResult("Give the volume to close, in lots.", true);
              return { action: "close_position", ...target, volume: volume.value.trim() };
            })
          ),
          el(
            "div",
            {},
            sl,
            tp,
            actionButton("Set SL/TP", "set-sltp", () => {
              const message = { action: "modify_position", ...target };
              if (sl.value.trim()) message.sl = sl.value.trim();
              if (tp.value.trim()) message.tp = tp.value.trim();
              if (!("sl" in message) && !("tp" in message)) {
                return showResult("Give a stop loss and/or a take profit.", true);
              }
              return message;
            })
          )
        )
      );
    }
    return row;
  }

  function updateCells(row, values) {
    for (const cell of row.querySelectorAll("td[data-field]")) {
      if (cell.dataset.field in values) setText(cell, values[cell.dataset.field]);
    }
  }

  function renderPositions() {
    const body = $("live-positions-body");
    if (!body) return;
    const items = [];
    let unknown = 0;
    for (const [accountId, positions] of state.positions) {
      if (positions === null) unknown += 1;
      for (const position of positions || []) items.push({ accountId, position });
    }
    syncRows(
      body,
      items,
      (item) => `${item.accountId}:${item.position.id}`,
      (item) => positionRow(item.accountId, item.position),
      (row, item) => {
        updateCells(row, { ...item.position, account: accountName(item.accountId) });
        const profit = row.querySelector('td[data-field="profit"]');
        const value = Number(item.position.profit);
        profit.className = `num ${value > 0 ? "profit-up" : value < 0 ? "profit-down" : ""}`;
      }
    );
    const empty = $("live-positions-empty");
    empty.hidden = items.length > 0;
    empty.textContent = unknown ? "Positions are loading…" : "No open positions.";
  }

  function renderOrders() {
    const body = $("live-orders-body");
    if (!body) return;
    const items = [];
    for (const [accountId, orders] of state.orders) for (const order of orders || []) items.push({ accountId, order });
    syncRows(
      body,
      items,
      (item) => `${item.accountId}:${item.order.id}`,
      (item) => {
        const cells = ["account", "id", "symbol", "type", "volume", "price", "sl", "tp"].map((field) =>
          el("td", { "data-field": field, className: ["volume", "price", "sl", "tp"].includes(field) ? "num" : "" })
        );
        const row = el("tr", { "data-testid": `order-${item.order.id}` }, ...cells);
        if (canTrade) {
          row.append(
            el(
              "td",
              { className: "actions" },
              actionButton("Cancel", "cancel-order", {
                action: "cancel_order",
                account_id: item.accountId,
                order_id: item.order.id,
              })
            )
          );
        }
        return row;
      },
      (row, item) => updateCells(row, { ...item.order, account: accountName(item.accountId) })
    );
    $("live-orders-empty").hidden = items.length > 0;
  }

  function renderTrades() {
    const body = $("live-trades-body");
    if (!body) return;
    const items = [...state.trades.values()].sort((a, b) => b.id - a.id);
    syncRows(
      body,
      items,
      (trade) => String(trade.id),
      (trade) => {
        const fields = ["id", "account", "symbol", "side", "entry", "sl", "tps", "reached", "next", "last_step"];
        const cells = fields.map((field) =>
          el("td", { "data-field": field, className: ["entry", "sl", "reached"].includes(field) ? "num" : "" })
        );
        const row = el("tr", { "data-testid": `trade-${trade.id}` }, ...cells);
        if (canTrade) {
          const target = { action: "breakeven_trade", account_id: trade.account_id, trade_id: trade.id };
          row.append(el("td", { className: "actions" }, actionButton("Breakeven", "trade-breakeven", target)));
        }
        return row;
      },
      (row, trade) =>
        updateCells(row, {
          ...trade,
          id: `#${trade.id}`,
          account: accountName(trade.account_id),
          tps: (trade.tps || []).map((tp, index) => `${index < trade.reached ? "✓ " : ""}TP${index + 1} ${tp}`).join(", "),
          reached: trade.reached ? `TP${trade.reached}` : "",
        })
    );
    $("live-trades-empty").hidden = items.length > 0;
  }

  function applyProtection(message) {
    if (message.trade) state.trades.set(message.trade.id, message.trade);
    renderTrades();
    const step = message.step;
    prepend(
      el("li", {
        "data-testid": "feed-item",
        "data-kind": "protection",
        "data-trade": step.trade_id,
        text: `${clock(step.at)} Protection, trade #${step.trade_id} ${step.symbol} on ${accountName(step.account_id)}: ${step.message}`,
      })
    );
  }

  function applyTick(tick) {
    const body = $("live-positions-body");
    if (!body) return;
    for (const position of state.positions.get(tick.account_id) || []) {
      if (position.symbol !== tick.symbol) continue;
      const row = body.querySelector(`tr[data-key="${tick.account_id}:${CSS.escape(position.id)}"]`);
      if (row) setText(row.querySelector('td[data-field="current_price"]'), position.side === "buy" ? tick.bid : tick.ask);
    }
  }

  // -- feed ----------------------------------------------------------------------------------------
  const KIND = (kind) => kind.replace(/_/g, " ");

  function operationText(op) {
    const p = op.params || {};
    const target = [p.symbol, p.side, p.position_id && `position ${p.position_id}`, p.order_id && `order ${p.order_id}`]
      .filter(Boolean)
      .join(" ");
    const head = `#${op.id} ${KIND(op.kind)}${target ? ` ${target}` : ""} on ${accountName(op.account_id)}`;
    switch (op.event) {
      case "queued":
        return `${head}: queued (${op.priority} priority)`;
      case "sent":
        return `${head}: sent${op.attempt ? ` (attempt ${op.attempt})` : ""}`;
      case "retry":
        return `${head}: attempt ${op.attempt} failed (${op.category}), retrying in ${op.retry_in} s${op.message ? ` — ${op.message}` : ""}`;
      case "attempt_failed":
        return `${head}: attempt ${op.attempt} failed (${op.category})${op.message ? ` — ${op.message}` : ""}`;
      case "waiting":
        return `${head}: waiting — ${op.reason}`;
      case "done":
        return `${head}: done`;
      case "failed":
        return `${head}: failed — ${op.reason}`;
      default:
        return `${head}: ${op.event}`;
    }
  }

  function prepend(item) {
    const feed = $("live-feed");
    if (!feed) return;
    feed.prepend(item);
    while (feed.children.length > FEED_LIMIT) feed.lastElementChild.remove();
  }

  function addOperation(op) {
    prepend(
      el("li", {
        "data-testid": "feed-item",
        "data-kind": "operation",
        "data-operation": op.id,
        "data-event": op.event,
        text: `${clock(op.at)} ${operationText(op)}`,
      })
    );
  }

  function addSafety(event) {
    let what;
    if (event.monitor === "health") {
      what =
        event.to_state === "paused"
          ? "Broker health monitor paused the platform"
          : "Broker health monitor resumed the platform";
    } else {
      const name = accountName(event.account_id);
      what = { paused: `${name} paused`, testing: `${name} testing after a pause`, trading: `${name} resumed trading` }[
        event.to_state
      ] || `${name}: ${event.to_state}`;
    }
    prepend(
      el("li", {
        "data-testid": "feed-item",
        "data-kind": "safety",
        "data-monitor": event.monitor,
        "data-to": event.to_state,
        text: `${clock(event.at)} Safety: ${what} (${event.cause})`,
      })
    );
  }

  // -- actions ---------------------------------------------------------------------------------------
  function showResult(text, isError) {
    const node = $("live-action-result");
    if (!node) return undefined;
    node.textContent = text;
    node.className = isError ? "error" : "muted";
    return undefined;
  }

  function actionResult(message) {
    const button = pending.get(message.request_id);
    if (button) button.disabled = false;
    pending.delete(message.request_id);
    if (message.ok) showResult(`Accepted: operation #${message.operation.id} (${KIND(message.operation.kind)}).`);
    else showResult(message.error, true);
  }

  window.ttmtLive = { state, send };
  connect();
})();
