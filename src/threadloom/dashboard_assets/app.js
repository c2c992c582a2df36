// Threadloom dashboard: one page, hash-routed views rendered from the JSON API.
// Every call goes through `api()`, which sends the credentials the user gave (if any); the
// server applies the same authentication and authorization as to any client.
"use strict";

const BASE = location.pathname.replace(/\/dashboard\/?$/, "");
const TOKEN_KEY = "threadloom.dashboard.token";
const LIVE_MS = 500;  // lists and the overview follow changes within a second
const main = document.getElementById("main");
let cleanup = () => {};

// ---------------------------------------------------------------- DOM and formatting helpers
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "text") el.textContent = value;
    else if (key === "style") Object.assign(el.style, value);  // CSSOM: allowed by the CSP
    else el.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}
const svgNS = "http://www.w3.org/2000/svg";
function s(tag, attrs, ...children) {
  const el = document.createElementNS(svgNS, tag);
  for (const [key, value] of Object.entries(attrs || {})) el.setAttribute(key, value);
  for (const child of children.flat()) if (child) el.append(child);
  return el;
}
const json = (value) => JSON.stringify(value, null, 2);
const fmtMs = (ms) => (ms === null || ms === undefined ? "—" : ms < 1000 ? `${ms.toFixed(ms < 10 ? 1 : 0)} ms` : `${(ms / 1000).toFixed(2)} s`);
const fmtTime = (iso) => (iso ? new Date(iso).toLocaleString() : "—");
const fmtNum = (n) => (n === null || n === undefined ? "—" : Number(n).toLocaleString());
const badge = (status) => h("span", { class: `badge s-${status}`, text: status || "—" });
const short = (id) => (id ? id.slice(0, 8) : "—");
const link = (href, text, attrs) => h("a", { href, ...attrs }, text);
const runHref = (run) => `#/runs/${run.run_id}`;
const threadHref = (id) => `#/threads/${id}`;
function card(title, ...body) {
  return h("section", { class: "card", "aria-label": title }, h("h2", { text: title }), ...body);
}
function kv(pairs) {
  return h("dl", { class: "kv" }, pairs.filter(Boolean).map(([k, v]) => [h("dt", { text: k }), h("dd", {}, v ?? "—")]));
}
function table(headers, rows, empty) {
  if (!rows.length) return h("p", { class: "muted", text: empty || "Nothing yet." });
  return h("table", {},
    h("thead", {}, h("tr", {}, headers.map((x) => h("th", { scope: "col", class: x.endsWith(" ") ? "num" : null, text: x.trim() })))),
    h("tbody", {}, rows));
}
function replace(el, ...children) {
  // keep keyboard focus across live redraws: refocus the link to the same place
  const focused = el.contains(document.activeElement) ? document.activeElement.getAttribute("href") : null;
  el.replaceChildren(...children.flat().filter(Boolean));
  if (focused) {
    const again = [...el.querySelectorAll("a[href]")].find((a) => a.getAttribute("href") === focused);
    if (again) again.focus({ preventScroll: true });
  }
  return el;
}
// Redraw only when the data changed (a live view re-reads twice a second).
function changed(holder, data) {
  const signature = JSON.stringify(data);
  if (holder.signature === signature) return false;
  holder.signature = signature;
  return true;
}
function toLocalInput(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  return new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
}

// ---------------------------------------------------------------- API access
class ApiError extends Error {
  constructor(status, detail) { super(detail); this.status = status; }
}
function headers(extra) {
  const out = { ...extra };
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) {
    out["Authorization"] = `Bearer ${token}`;
    out["X-Api-Key"] = token;
  }
  return out;
}
async function api(method, path, body, signal) {
  const init = { method, headers: headers(body === undefined ? {} : { "Content-Type": "application/json" }), signal };
  if (body !== undefined) init.body = JSON.stringify(body);
  const response = await fetch(BASE + path, init);
  if (response.status === 204) return null;
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = text; }
  if (!response.ok) {
    const detail = (data && data.detail) || response.statusText;
    if (response.status === 401 || response.status === 403) askForToken();
    throw new ApiError(response.status, typeof detail === "string" ? detail : json(detail));
  }
  return data;
}
// An SSE stream read with fetch (EventSource cannot send credentials headers).
async function stream(path, onEvent, signal, lastEventId = "0") {
  const response = await fetch(BASE + path, { headers: headers({ "Last-Event-ID": lastEventId, Accept: "text/event-stream" }), signal });
  if (!response.ok || !response.body) throw new ApiError(response.status, response.statusText);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value.replace(/\r\n/g, "\n");
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const frame = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      const event = { event: "message", data: "", id: null };
      for (const line of frame.split("\n")) {
        if (line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        const val = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "data") event.data += (event.data ? "\n" : "") + val;
        else if (field === "event") event.event = val;
        else if (field === "id") event.id = val;
      }
      if (frame.trim() && !frame.split("\n").every((l) => l.startsWith(":"))) onEvent(event);
    }
  }
}
function errorBox(err) {
  return h("div", { class: "notice", role: "alert", text: err instanceof ApiError ? `${err.status}: ${err.message}` : String(err) });
}
// Re-run `load` every LIVE_MS until the view is left; errors show, then the loop goes on.
function live(load) {
  let stopped = false;
  let timer = null;
  const tick = async () => {
    try { await load(); } catch (err) { if (!stopped) console.warn(err); }
    if (!stopped) timer = setTimeout(tick, LIVE_MS);
  };
  tick();
  return () => { stopped = true; clearTimeout(timer); };
}

// ---------------------------------------------------------------- sign in
const dialog = document.getElementById("login");
function askForToken() {
  if (!dialog.open) dialog.showModal();
}
document.getElementById("login-form").addEventListener("submit", (event) => {
  const token = new FormData(event.target).get("token");
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  route();
});
document.getElementById("login-cancel").addEventListener("click", () => dialog.close());
document.getElementById("signin").addEventListener("click", askForToken);

// ---------------------------------------------------------------- charts
function bars(values, { label, errors, unit = "" } = {}) {
  const width = 300, height = 64;
  const max = Math.max(1, ...values.map((v) => v || 0));
  const w = width / values.length;
  const svg = s("svg", { class: "chart", viewBox: `0 0 ${width} ${height}`, preserveAspectRatio: "none", role: "img", "aria-label": label });
  values.forEach((v, i) => {
    const bh = ((v || 0) / max) * (height - 2);
    svg.append(s("rect", { x: (i * w + 0.5).toFixed(2), y: (height - bh).toFixed(2), width: Math.max(0.5, w - 1).toFixed(2), height: bh.toFixed(2), class: errors ? "err" : "" }));
  });
  svg.append(s("line", { x1: 0, x2: width, y1: height - 0.5, y2: height - 0.5, class: "base" }));
  return h("figure", { class: "spark" }, svg, h("figcaption", {}, h("span", { text: "60 min ago" }), h("span", { text: `per minute · max ${fmtNum(Math.round(max))}${unit}` }), h("span", { text: "now" })));
}

// ---------------------------------------------------------------- views
async function viewOverview(el) {
  el.append(h("h1", {}, "Overview", h("span", { class: "muted", text: "last hour, live" })));
  const body = h("div", { class: "stack" });
  el.append(body);
  return live(async () => {
    const o = await api("GET", "/dashboard/api/overview");
    const stat = (title, value, sub, chart) => card(title, h("div", { class: "stat" }, value, sub ? h("small", {}, " ", sub) : null), chart || null);
    replace(body,
      h("div", { class: "grid" },
        stat("Runs per second", o.runs_per_second.toFixed(2), `${fmtNum(o.runs)} in the hour${o.truncated ? " (capped)" : ""}`, bars(o.series.runs, { label: "runs per minute" })),
        stat("Pending / running", `${fmtNum(o.pending)} / ${fmtNum(o.running)}`, "now"),
        stat("Errors", fmtNum(o.errors), "error or timeout", bars(o.series.errors, { label: "errors per minute", errors: true })),
        stat("Run duration", fmtMs(o.duration_ms.p50), `p50 · p95 ${fmtMs(o.duration_ms.p95)}`, bars(o.series.duration_p50_ms, { label: "p50 duration per minute", unit: " ms" })),
        stat("Time to first token", fmtMs(o.ttft_ms.p50), `p50 · p95 ${fmtMs(o.ttft_ms.p95)}`, bars(o.series.ttft_p50_ms, { label: "p50 time to first token per minute", unit: " ms" })),
        stat("Tokens", fmtNum(o.tokens), "in the hour", bars(o.series.tokens, { label: "tokens per minute" })),
      ),
      h("p", { class: "muted", text: `Updated ${new Date(o.now).toLocaleTimeString()}` }),
    );
  });
}

function runRows(runs, { thread = true } = {}) {
  return runs.map((r) => h("tr", { "data-run": r.run_id },
    h("td", { class: "mono" }, link(runHref(r), short(r.run_id), { "aria-label": `run ${r.run_id}` })),
    h("td", {}, badge(r.status)),
    thread ? h("td", { class: "mono" }, link(threadHref(r.thread_id), short(r.thread_id))) : null,
    h("td", { class: "mono", text: short(r.assistant_id) }),
    h("td", { text: fmtTime(r.created_at) }),
    h("td", { class: "num", text: fmtMs(r.ttft_ms) }),
    h("td", { class: "num", text: fmtMs(r.duration_ms) }),
    h("td", { class: "num", text: fmtNum(r.total_tokens) }),
  ));
}
const RUN_HEADERS = ["Run", "Status", "Thread", "Assistant", "Created", "TTFT ", "Duration ", "Tokens "];

async function viewRuns(el, params) {
  el.append(h("h1", {}, "Runs", h("span", { class: "muted", text: params.get("cursor") ? "older page" : "newest first, live" })));
  const field = (name, label, input) => h("label", {}, label, input || h("input", { name, value: params.get(name) || "" }));
  const status = h("select", { name: "status" }, ["", "pending", "running", "success", "error", "timeout", "interrupted"].map((v) => h("option", { value: v, selected: params.get("status") === v, text: v || "any" })));
  const form = h("form", { class: "filters", role: "search", onsubmit: (e) => {
    e.preventDefault();
    const q = new URLSearchParams();
    for (const [k, v] of new FormData(form)) if (v) q.set(k, k.startsWith("created") ? new Date(v).toISOString() : v);
    location.hash = `#/runs?${q}`;
  } },
  field("status", "Status", status), field("assistant_id", "Assistant"), field("thread_id", "Thread"),
  field("created_after", "Created after", h("input", { type: "datetime-local", name: "created_after", value: toLocalInput(params.get("created_after")) })),
  field("created_before", "Created before", h("input", { type: "datetime-local", name: "created_before", value: toLocalInput(params.get("created_before")) })),
  h("button", { type: "submit", text: "Filter" }));
  const body = h("div", {});
  el.append(form, body);
  const query = new URLSearchParams(params);
  const seen = {};
  const load = async () => {
    const page = await api("GET", `/dashboard/api/runs?${query}`);
    if (!changed(seen, page)) return;
    const next = new URLSearchParams(params);
    if (page.next) next.set("cursor", page.next);
    const newest = new URLSearchParams(params);
    newest.delete("cursor");
    replace(body, table(RUN_HEADERS, runRows(page.runs), "No runs match."),
      h("nav", { class: "pager", "aria-label": "Pages" },
        params.get("cursor") ? link(`#/runs?${newest}`, "← Newest") : null,
        page.next ? link(`#/runs?${next}`, "Older →") : null));
  };
  if (params.get("cursor")) { await load(); return () => {}; }
  return live(load);  // the first page follows new runs and their status
}

function timeline(run) {
  const t0 = Date.parse(run.created_at);
  const t1 = run.started_at ? Date.parse(run.started_at) : null;
  const t2 = run.ended_at ? Date.parse(run.ended_at) : Date.now();
  const total = Math.max(1, t2 - t0);
  const wait = ((t1 ?? t2) - t0) / total * 100;
  return h("div", {},
    h("div", { class: "timeline", role: "img", "aria-label": `queued ${fmtMs(run.queue_wait_ms)}, then running` },
      h("span", { class: "wait", style: { width: `${wait.toFixed(2)}%` } }),
      t1 ? h("span", { class: "work", style: { width: `${(100 - wait).toFixed(2)}%` } }) : null),
    h("div", { class: "legend" }, h("span", {}, h("i", { class: "wait" }), "queue wait"), h("span", {}, h("i", { class: "work" }), "running")));
}

async function viewRun(el, params, runId) {
  const head = h("h1", {}, "Run ", h("span", { class: "mono", text: runId }));
  const body = h("div", { class: "stack" });
  const list = h("ol", {});
  const events = card("Event stream", h("div", { class: "events" }, list));
  el.append(head, body, events);
  const controller = new AbortController();
  let run = null;
  let streaming = false;
  const render = () => {
    const cancel = run.status === "pending" || run.status === "running"
      ? h("button", { type: "button", class: "danger", onclick: async (e) => {
          e.target.disabled = true;
          try { await api("POST", `/threads/${run.thread_id}/runs/${run.run_id}/cancel?action=interrupt`); } catch (err) { body.prepend(errorBox(err)); }
          await refresh();
        } }, "Cancel run")
      : null;
    replace(head, "Run ", h("span", { class: "mono", text: run.run_id }), badge(run.status), cancel);
    const steps = (run.steps || []).map((step) => h("tr", {},
      h("td", { text: step.type || "—" }), h("td", { text: step.name || step.model || "—" }),
      h("td", { text: fmtTime(step.started_at) }),
      h("td", { class: "num", text: step.started_at && step.ended_at ? fmtMs(Date.parse(step.ended_at) - Date.parse(step.started_at)) : "—" }),
      h("td", { class: "num", text: fmtNum(step.usage && (step.usage.total_tokens ?? ((step.usage.input_tokens || 0) + (step.usage.output_tokens || 0)))) }),
      h("td", { class: "error", text: step.error ? String(step.error.message || step.error) : "" })));
    replace(body,
      h("div", { class: "grid wide" },
        card("Timeline", timeline(run), kv([
          ["Created", fmtTime(run.created_at)], ["Started", fmtTime(run.started_at)], ["Ended", fmtTime(run.ended_at)],
          ["Queue wait", fmtMs(run.queue_wait_ms)], ["Time to first token", fmtMs(run.ttft_ms)], ["Duration", fmtMs(run.duration_ms)],
          ["Stop reason", run.stop_reason], ["Attempt", String(run.attempt)]])),
        card("Run", kv([
          ["Thread", link(threadHref(run.thread_id), run.thread_id, { class: "mono" })], ["Assistant", h("span", { class: "mono", text: run.assistant_id })],
          ["Model", run.model], ["Multitask", run.multitask_strategy], ["Background", String(run.background)],
          ["Tokens", `${fmtNum(run.usage.total_tokens)} (prompt ${fmtNum(run.usage.prompt_tokens)}, completion ${fmtNum(run.usage.completion_tokens)})`],
          ["LLM calls", fmtNum(run.usage.step_count)],
          run.error_detail ? ["Error", h("span", { class: "error", text: `${run.error_detail.error || run.error_detail.type || ""}: ${run.error_detail.message || ""}` })] : null])),
      ),
      card("Steps", table(["Type", "Name", "Started", "Took ", "Tokens ", "Error"], steps, "No LLM or tool calls recorded.")),
      h("div", { class: "grid wide" },
        card("Input", h("pre", { text: json(run.command ? { command: run.command, input: run.input } : run.input) })),
        card("Output", h("pre", { text: run.output_error ? json(run.output_error) : run.output ? json(run.output) : run.log_kept || run.status === "pending" || run.status === "running" ? "—" : "The event log is no longer kept; see the thread's state." }))),
    );
  };
  const refresh = async () => {
    run = await api("GET", `/dashboard/api/runs/${runId}`, undefined, controller.signal);
    render();
    if (!streaming) follow();
  };
  const follow = () => {
    streaming = true;
    stream(`/dashboard/api/runs/${run.run_id}/events`, (event) => {
      const data = event.data.length > 400 ? `${event.data.slice(0, 400)}…` : event.data;
      list.append(h("li", {}, h("strong", { text: event.event }), " ", event.id ? h("span", { class: "muted", text: `#${event.id} ` }) : null, data));
      if (event.event === "metadata" || event.event === "end" || event.event === "error") refresh().catch(() => {});
    }, controller.signal).then(() => {
      if (!list.children.length) list.append(h("li", { class: "muted", text: "No events kept for this run (the log is kept for a while after the run ends)." }));
      return refresh();
    }).catch((err) => {
      if (!controller.signal.aborted && !list.children.length) list.append(h("li", { class: "muted", text: `No events (${err.message || err}).` }));
    });
  };
  try { await refresh(); } catch (err) { replace(body, errorBox(err)); }
  const stopPolling = live(async () => { if (run && (run.status === "pending" || run.status === "running")) await refresh(); });
  return () => { stopPolling(); controller.abort(); };
}

function chat(messages) {
  if (!Array.isArray(messages)) return null;
  return h("div", { class: "chat" }, messages.map((m) => {
    const role = m.type || m.role || "message";
    const content = typeof m.content === "string" ? m.content : json(m.content);
    const calls = (m.tool_calls || []).map((c) => `→ ${c.name}(${JSON.stringify(c.args)})`);
    const text = [content, ...calls].filter(Boolean).join("\n");
    return h("div", { class: `msg ${role}` }, h("span", { class: "who", text: m.name ? `${role} · ${m.name}` : role }), text);
  }));
}

function parseResume(text) {
  try { return JSON.parse(text); } catch { return text; }
}

async function viewThread(el, params, threadId) {
  const head = h("h1", {}, "Thread ", h("span", { class: "mono", text: threadId }));
  const body = h("div", { class: "stack" });
  el.append(head, body);
  let drafting = false;
  let signature = "";
  const load = async () => {
    if (drafting) return;  // never redraw under someone typing a resume value
    const [thread, runs, history] = await Promise.all([
      api("GET", `/threads/${threadId}`),
      api("GET", `/threads/${threadId}/runs?limit=20`),
      api("POST", `/threads/${threadId}/history`, { limit: 10 }),
    ]);
    const now = JSON.stringify([thread.updated_at, thread.status, runs.map((r) => [r.run_id, r.status])]);
    if (now === signature) return;
    signature = now;
    replace(head, "Thread ", h("span", { class: "mono", text: threadId }), badge(thread.status));
    const values = thread.values || {};
    const interrupts = Object.entries(thread.interrupts || {}).flatMap(([task, list]) => list.map((i) => ({ task, ...i })));
    const assistantId = (thread.metadata || {}).assistant_id || (thread.metadata || {}).graph_id;
    let resume = null;
    if (interrupts.length) {
      const area = h("textarea", { name: "resume", "aria-label": "Resume value (JSON or text)", onfocus: () => { drafting = true; }, onblur: () => { drafting = false; } });
      const status = h("span", { class: "muted", role: "status" });
      resume = card("Pending interrupts",
        interrupts.map((i) => h("pre", { text: json(i.value) })),
        h("form", { onsubmit: async (e) => {
          e.preventDefault();
          drafting = false;
          const button = e.target.querySelector("button");
          button.disabled = true;
          try {
            const run = await api("POST", `/threads/${threadId}/runs`, { assistant_id: assistantId, command: { resume: parseResume(area.value) } });
            status.textContent = "Resumed: ";
            status.append(link(runHref(run), short(run.run_id)));
          } catch (err) { status.replaceChildren(errorBox(err)); button.disabled = false; }
          signature = "";
        } }, h("label", {}, "Resume with (JSON, or plain text)", area), h("div", { class: "row" }, h("button", { type: "submit", text: "Resume" }), status)));
    }
    replace(body,
      resume,
      h("div", { class: "grid wide" },
        card("Thread", kv([["Status", badge(thread.status)], ["Created", fmtTime(thread.created_at)], ["Updated", fmtTime(thread.updated_at)],
          ["Assistant", assistantId ? h("span", { class: "mono", text: assistantId }) : null]]), h("h2", { text: "Metadata" }), h("pre", { text: json(thread.metadata) })),
        card("Messages", chat(values.messages) || h("p", { class: "muted", text: "No messages in the state." }))),
      card("Current values", h("pre", { text: json(values) })),
      card("Runs", table(["Run", "Status", "Created", "Updated"], runs.map((r) => h("tr", {},
        h("td", { class: "mono" }, link(runHref(r), short(r.run_id))), h("td", {}, badge(r.status)),
        h("td", { text: fmtTime(r.created_at) }), h("td", { text: fmtTime(r.updated_at) }))), "No runs on this thread.")),
      card("Checkpoint history", table(["Checkpoint", "Step ", "Source", "Next", "Created"], history.map((st) => h("tr", {},
        h("td", { class: "mono", text: (st.checkpoint && st.checkpoint.checkpoint_id) || "—" }),
        h("td", { class: "num", text: st.metadata && st.metadata.step !== undefined ? String(st.metadata.step) : "—" }),
        h("td", { text: (st.metadata && st.metadata.source) || "—" }),
        h("td", { text: (st.next || []).join(", ") || "—" }), h("td", { text: fmtTime(st.created_at) }))), "No checkpoints.")),
    );
  };
  try { await load(); } catch (err) { replace(body, errorBox(err)); return () => {}; }
  return live(load);
}

async function viewThreads(el, params) {
  const offset = Number(params.get("offset") || 0);
  const status = params.get("status") || "";
  el.append(h("h1", {}, "Threads"));
  const select = h("select", { name: "status", onchange: () => { location.hash = `#/threads?status=${select.value}`; } },
    ["", "idle", "busy", "interrupted", "error"].map((v) => h("option", { value: v, selected: v === status, text: v || "any" })));
  el.append(h("form", { class: "filters", onsubmit: (e) => e.preventDefault() }, h("label", {}, "Status", select)));
  const body = h("div", {});
  const seen = {};
  el.append(body);
  return live(async () => {
    const threads = await api("POST", "/threads/search", { limit: 50, offset, status: status || undefined, sort_by: "updated_at", sort_order: "desc" });
    if (!changed(seen, threads.map((t) => [t.thread_id, t.status, t.updated_at]))) return;
    const q = (o) => `#/threads?status=${status}&offset=${o}`;
    replace(body, table(["Thread", "Status", "Assistant", "Updated", "Created"], threads.map((t) => h("tr", {},
      h("td", { class: "mono" }, link(threadHref(t.thread_id), short(t.thread_id), { "aria-label": `thread ${t.thread_id}` })), h("td", {}, badge(t.status)),
      h("td", { class: "mono", text: short((t.metadata || {}).assistant_id) }), h("td", { text: fmtTime(t.updated_at) }), h("td", { text: fmtTime(t.created_at) }))), "No threads."),
    h("nav", { class: "pager", "aria-label": "Pages" }, offset ? link(q(Math.max(0, offset - 50)), "← Newer") : null, threads.length === 50 ? link(q(offset + 50), "Older →") : null));
  });
}

async function viewAssistants(el) {
  el.append(h("h1", {}, "Assistants"));
  const list = await api("POST", "/assistants/search", { limit: 100 });
  el.append(table(["Assistant", "Name", "Graph", "Version ", "Updated"], list.map((a) => h("tr", {},
    h("td", { class: "mono" }, link(`#/assistants/${a.assistant_id}`, short(a.assistant_id), { "aria-label": `assistant ${a.name}` })), h("td", { text: a.name }),
    h("td", { text: a.graph_id }), h("td", { class: "num", text: String(a.version) }), h("td", { text: fmtTime(a.updated_at) }))), "No assistants."));
  return () => {};
}

function drawGraph(graph) {
  const nodes = graph.nodes || [];
  const edges = graph.edges || [];
  const out = new Map(nodes.map((n) => [n.id, []]));
  for (const e of edges) if (out.has(e.source)) out.get(e.source).push(e.target);
  // layers: breadth-first from the start, each node once (back edges do not push it down)
  const layer = new Map();
  const start = nodes.find((n) => n.id === "__start__") || nodes[0];
  const queue = start ? [start.id] : [];
  if (start) layer.set(start.id, 0);
  while (queue.length) {
    const id = queue.shift();
    for (const next of out.get(id) || []) if (!layer.has(next)) { layer.set(next, layer.get(id) + 1); queue.push(next); }
  }
  let deepest = Math.max(0, ...layer.values());
  for (const n of nodes) if (!layer.has(n.id)) layer.set(n.id, ++deepest);
  const end = nodes.find((n) => n.id === "__end__");
  if (end) layer.set(end.id, Math.max(...[...layer.entries()].filter(([k]) => k !== end.id).map(([, v]) => v)) + 1);
  const rows = [];
  for (const n of nodes) (rows[layer.get(n.id)] ||= []).push(n);
  const W = 150, H = 34, GX = 30, GY = 44;
  const widest = Math.max(1, ...rows.filter(Boolean).map((r) => r.length));
  const width = widest * (W + GX) + GX;
  const pos = new Map();
  rows.filter(Boolean).forEach((row, y) => row.forEach((n, x) => {
    const offset = (width - row.length * (W + GX) + GX) / 2;
    pos.set(n.id, { x: offset + x * (W + GX), y: GY / 2 + y * (H + GY) });
  }));
  const height = rows.filter(Boolean).length * (H + GY);
  const svg = s("svg", { width, height, viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": `graph of ${nodes.length} nodes` },
    s("defs", {}, s("marker", { id: "arrow", viewBox: "0 0 10 10", refX: "10", refY: "5", markerWidth: "7", markerHeight: "7", orient: "auto-start-reverse" }, s("path", { d: "M0 0L10 5L0 10z" }))));
  for (const e of edges) {
    const a = pos.get(e.source), b = pos.get(e.target);
    if (!a || !b) continue;
    const x1 = a.x + W / 2, y1 = a.y + H, x2 = b.x + W / 2, y2 = b.y;
    const d = y2 > y1 ? `M${x1} ${y1} C${x1} ${y1 + GY / 2} ${x2} ${y2 - GY / 2} ${x2} ${y2}` : `M${a.x + W} ${a.y + H / 2} C${a.x + W + 40} ${a.y} ${b.x + W + 40} ${b.y + H} ${b.x + W} ${b.y + H / 2}`;
    svg.append(s("path", { d, class: e.conditional ? "cond" : "", "marker-end": "url(#arrow)" }));
  }
  for (const n of nodes) {
    const p = pos.get(n.id);
    const label = n.id === "__start__" ? "start" : n.id === "__end__" ? "end" : n.id;
    const text = s("text", { x: p.x + W / 2, y: p.y + H / 2 + 4, "text-anchor": "middle" });
    text.textContent = label.length > 20 ? `${label.slice(0, 19)}…` : label;
    svg.append(s("rect", { x: p.x, y: p.y, width: W, height: H, rx: n.id.startsWith("__") ? 17 : 6 }), text);
  }
  return h("div", { class: "graph" }, svg);
}

async function viewAssistant(el, params, assistantId) {
  const [assistant, graph, schemas, versions] = await Promise.all([
    api("GET", `/assistants/${assistantId}`),
    api("GET", `/assistants/${assistantId}/graph`).catch((err) => ({ error: err })),
    api("GET", `/assistants/${assistantId}/schemas`).catch((err) => ({ error: err })),
    api("POST", `/assistants/${assistantId}/versions`, { limit: 20 }).catch(() => []),
  ]);
  el.append(h("h1", {}, "Assistant ", h("span", { text: assistant.name })),
    h("div", { class: "stack" },
      h("div", { class: "grid wide" },
        card("Assistant", kv([["Id", h("span", { class: "mono", text: assistant.assistant_id })], ["Graph", assistant.graph_id], ["Version", String(assistant.version)],
          ["Description", assistant.description], ["Created", fmtTime(assistant.created_at)], ["Updated", fmtTime(assistant.updated_at)]]),
        h("h2", { text: "Config" }), h("pre", { text: json({ config: assistant.config, context: assistant.context, metadata: assistant.metadata }) })),
        card("Graph", graph.error ? errorBox(graph.error) : drawGraph(graph))),
      card("Versions", table(["Version ", "Created", "Metadata"], versions.map((v) => h("tr", {},
        h("td", { class: "num", text: String(v.version) }), h("td", { text: fmtTime(v.created_at) }), h("td", {}, h("code", { text: JSON.stringify(v.metadata) })))), "No versions.")),
      card("Schemas", schemas.error ? errorBox(schemas.error) : h("pre", { text: json(schemas) }))));
  return () => {};
}

async function viewCrons(el) {
  el.append(h("h1", {}, "Crons"));
  const crons = await api("POST", "/runs/crons/search", { limit: 100 });
  el.append(table(["Cron", "Schedule", "Assistant", "Thread", "Next run", "Enabled"], crons.map((c) => h("tr", {},
    h("td", { class: "mono", text: short(c.cron_id) }), h("td", { class: "mono", text: c.schedule }), h("td", { class: "mono", text: short(c.assistant_id) }),
    h("td", { class: "mono" }, c.thread_id ? link(threadHref(c.thread_id), short(c.thread_id)) : "—"), h("td", { text: fmtTime(c.next_run_date) }),
    h("td", { text: c.enabled === false ? "no" : "yes" }))), "No crons."));
  return () => {};
}

async function viewStore(el, params) {
  const prefix = (params.get("ns") || "").split("/").filter(Boolean);
  el.append(h("h1", {}, "Store", h("span", { class: "mono muted", text: prefix.length ? prefix.join(" / ") : "all namespaces" })));
  const [namespaces, items] = await Promise.all([
    api("POST", "/store/namespaces", { prefix: prefix.length ? prefix : undefined, max_depth: prefix.length + 1, limit: 100 }),
    prefix.length ? api("POST", "/store/items/search", { namespace_prefix: prefix, limit: 50 }) : Promise.resolve({ items: [] }),
  ]);
  const children = (namespaces.namespaces || []).filter((ns) => ns.length > prefix.length || prefix.length === 0);
  el.append(h("div", { class: "stack" },
    prefix.length ? link(`#/store?ns=${encodeURIComponent(prefix.slice(0, -1).join("/"))}`, "↑ Up") : null,
    card("Namespaces", table(["Namespace"], children.map((ns) => h("tr", {}, h("td", { class: "mono" }, link(`#/store?ns=${encodeURIComponent(ns.join("/"))}`, ns.join(" / "))))), "No namespaces.")),
    prefix.length ? card("Items", table(["Key", "Value", "Updated"], (items.items || []).map((it) => h("tr", {},
      h("td", { class: "mono", text: it.key }), h("td", {}, h("code", { text: JSON.stringify(it.value).slice(0, 200) })), h("td", { text: fmtTime(it.updated_at) }))), "No items here.")) : null));
  return () => {};
}

// ---------------------------------------------------------------- router
const ROUTES = [
  [/^$/, "overview", viewOverview],
  [/^runs$/, "runs", viewRuns],
  [/^runs\/([^/]+)$/, "runs", viewRun],
  [/^threads$/, "threads", viewThreads],
  [/^threads\/([^/]+)$/, "threads", viewThread],
  [/^assistants$/, "assistants", viewAssistants],
  [/^assistants\/([^/]+)$/, "assistants", viewAssistant],
  [/^crons$/, "crons", viewCrons],
  [/^store$/, "store", viewStore],
];

async function route() {
  cleanup();
  cleanup = () => {};
  const [path, query] = location.hash.replace(/^#\/?/, "").split("?");
  const params = new URLSearchParams(query || "");
  const found = ROUTES.map(([re, nav, view]) => [path.match(re), nav, view]).find(([m]) => m);
  document.querySelectorAll("[data-nav]").forEach((a) => a.removeAttribute("aria-current"));
  const el = h("div", {});
  main.replaceChildren(el);
  if (!found) { el.append(h("h1", { text: "Not found" }), link("#/", "Overview")); return; }
  const [match, nav, view] = found;
  document.querySelector(`[data-nav="${nav}"]`).setAttribute("aria-current", "page");
  document.title = `${nav[0].toUpperCase()}${nav.slice(1)} · Threadloom`;
  try {
    const stop = await view(el, params, ...match.slice(1).map(decodeURIComponent));
    if (main.firstChild === el) cleanup = stop; else stop();
  } catch (err) {
    el.append(errorBox(err));
  }
}
window.addEventListener("hashchange", () => { route(); main.focus({ preventScroll: true }); });
route();
