// ipvm dashboard: plain JS, no build step. Talks to the gateway's /v1 API.
"use strict";

const $ = (id) => document.getElementById(id);

function el(tag, props, ...children) {
  const e = document.createElement(tag);
  Object.assign(e, props || {});
  for (const c of children) e.append(c);
  return e;
}

function short(cid) {
  return cid && cid.length > 20 ? cid.slice(0, 10) + "…" + cid.slice(-8) : cid || "";
}

async function getJSON(path) {
  const r = await fetch(path, { headers: { Accept: "application/json" } });
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(body.error ? `${body.name}: ${body.error}` : `HTTP ${r.status}`);
  return body;
}

function outText(out) {
  if (!out) return "";
  if ("ok" in out) return JSON.stringify(out.ok);
  if (out.err) return `${out.err.name}: ${out.err.message}`;
  return JSON.stringify(out);
}

async function loadIdentity() {
  try {
    const id = await getJSON("/v1/id");
    $("did").textContent = id.did || "–";
    $("peer").textContent = id.peer_id || "– (no network)";
    $("version").textContent = id.version || "–";
  } catch (e) {
    $("did").textContent = e.message;
  }
}

async function loadPeers() {
  const ul = $("peers");
  try {
    const { peers } = await getJSON("/v1/peers");
    ul.replaceChildren();
    if (!peers.length) ul.append(el("li", { className: "muted", textContent: "no peers connected" }));
    for (const p of peers) ul.append(el("li", { textContent: p.id + (p.did ? "  " + p.did : ""), title: (p.addrs || []).join("\n") }));
  } catch (e) {
    ul.replaceChildren(el("li", { className: "error", textContent: e.message }));
  }
}

function taskRow(t) {
  const state = t.state || "pending";
  const result = el("td", { textContent: outText(t.out), title: outText(t.out) });
  const receipt = el("td", { className: "cid" });
  if (t.receipt) {
    const a = el("a", { href: "#", textContent: short(t.receipt), title: t.receipt });
    a.addEventListener("click", (ev) => { ev.preventDefault(); lookup(t.receipt); });
    receipt.append(a);
  }
  const stateCell = el("td", {}, el("span", { className: "state state-" + state, textContent: state }));
  if (t.cached) stateCell.append(el("span", { className: "badge", textContent: "cached" }));
  const row = el("tr", {}, el("td", { textContent: t.name, title: t.task }), stateCell, result, receipt);
  row.dataset.task = t.name;
  row.dataset.state = state;
  return row;
}

async function loadRecent() {
  const box = $("recent");
  try {
    const { workflows } = await getJSON("/v1/workflows");
    box.replaceChildren();
    box.classList.toggle("muted", !workflows.length);
    if (!workflows.length) { box.textContent = "none yet"; return; }
    for (const w of workflows) {
      const done = w.tasks.filter((t) => t.state === "done" || t.state === "failed").length;
      const summary = el("summary", {},
        el("span", { className: "cid", textContent: short(w.workflow), title: w.workflow }),
        ` — ${done}/${w.tasks.length} tasks${w.done ? "" : " (running)"}`,
        w.error ? el("span", { className: "error", textContent: " " + w.error }) : "");
      const table = el("table", { className: "tasks" }, el("tbody", {}, ...w.tasks.map(taskRow)));
      box.append(el("details", { className: "wf" }, summary, table));
    }
  } catch (e) {
    box.replaceChildren(el("span", { className: "error", textContent: e.message }));
  }
}

// parseSSE feeds text chunks and calls onEvent(name, data) per complete event.
function sseParser(onEvent) {
  let buf = "";
  return (chunk) => {
    buf += chunk.replace(/\r\n?/g, "\n");
    let i;
    while ((i = buf.indexOf("\n\n")) >= 0) {
      const block = buf.slice(0, i);
      buf = buf.slice(i + 2);
      let name = "message", data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith(":")) continue;
        const c = line.indexOf(":");
        const field = c < 0 ? line : line.slice(0, c);
        let value = c < 0 ? "" : line.slice(c + 1);
        if (value.startsWith(" ")) value = value.slice(1);
        if (field === "event") name = value;
        else if (field === "data") data.push(value);
      }
      if (data.length) onEvent(name, data.join("\n"));
    }
  };
}

async function submit() {
  const status = $("submit-status"), table = $("live"), tbody = table.querySelector("tbody");
  const btn = $("run");
  btn.disabled = true;
  status.className = "muted";
  status.textContent = "submitting…";
  tbody.replaceChildren();
  const rows = new Map();
  try {
    const r = await fetch("/v1/workflows", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
      body: $("workflow").value,
    });
    if (!r.ok) {
      const body = await r.json().catch(() => ({}));
      throw new Error(body.error ? `${body.name}: ${body.error}` : `HTTP ${r.status}`);
    }
    const feed = sseParser((name, data) => {
      const d = JSON.parse(data);
      if (name === "workflow") {
        status.textContent = "workflow " + short(d.workflow);
        status.title = d.workflow;
        table.hidden = false;
        for (const t of d.tasks) {
          const row = taskRow({ name: t.name, task: t.task, state: "pending" });
          rows.set(t.name, row);
          tbody.append(row);
        }
        loadRecent();
      } else if (name === "receipt") {
        const state = d.out && d.out.err ? "failed" : "done";
        const row = taskRow({ ...d, state });
        const old = rows.get(d.name);
        if (old) old.replaceWith(row); else tbody.append(row);
        rows.set(d.name, row);
      } else if (name === "done") {
        status.textContent = `done: ${d.ok} ok, ${d.failed} failed, ${d.cached} cached`;
        status.dataset.done = "true";
      } else if (name === "error") {
        status.className = "error";
        status.textContent = `${d.name}: ${d.error}`;
      }
    });
    const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      feed(value);
    }
  } catch (e) {
    status.className = "error";
    status.textContent = e.message;
  } finally {
    btn.disabled = false;
    loadRecent();
  }
}

async function lookup(cid) {
  const pre = $("receipt");
  $("receipt-cid").value = cid;
  pre.hidden = false;
  pre.classList.remove("error");
  pre.textContent = "…";
  try {
    const rc = await getJSON("/v1/receipts/" + encodeURIComponent(cid.trim()));
    pre.textContent = (rc.verified ? "✔ verified\n" : "✘ NOT verified\n") + JSON.stringify(rc, null, 2);
  } catch (e) {
    pre.classList.add("error");
    pre.textContent = e.message;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("run").addEventListener("click", submit);
  $("lookup").addEventListener("submit", (ev) => { ev.preventDefault(); lookup($("receipt-cid").value); });
  loadIdentity();
  loadPeers();
  loadRecent();
  setInterval(loadPeers, 10000);
  setInterval(loadRecent, 5000);
});
