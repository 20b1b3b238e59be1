// The Switchyard admin UI: a page per hash (#keys, #spend, ...), each drawn from the admin API
// under /ui/api, which answers only this session's cookie together with its CSRF token. The
// token is held in this script's memory only (never in storage or a URL); the master key is sent
// once, to /ui/login, and never kept.
"use strict";

let csrfToken = null;
let refreshTimer = null;
let spendCursor = null;
const SVG = "http://www.w3.org/2000/svg";
const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"];

const $ = (selector) => document.querySelector(selector);

function say(text, ok) {
  const status = $("#status");
  status.textContent = text || "";
  status.className = ok ? "ok" : "";
}

async function api(path, options = {}) {
  const headers = { "x-switchyard-csrf": csrfToken || "" };
  if (options.body !== undefined) headers["content-type"] = "application/json";
  const response = await fetch("/ui/api" + path, {
    method: options.method || "GET",
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
    credentials: "same-origin",
  });
  if (response.status === 401) {
    showLogin("Your session ended: log in again.");
    throw new Error("session ended");
  }
  if (!response.ok) {
    let message = response.statusText;
    try { message = (await response.json()).error.message; } catch (_) { /* not JSON */ }
    throw new Error(message);
  }
  return options.raw ? response : response.json();
}

function cell(row, text, numeric) {
  const td = document.createElement("td");
  td.textContent = text === null || text === undefined ? "" : String(text);
  if (numeric) td.className = "num";
  row.appendChild(td);
  return td;
}

function button(label, onClick) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = label;
  b.addEventListener("click", onClick);
  return b;
}

const usd = (n) => (n === null || n === undefined ? "" : Number(n).toFixed(6));

// --- login ---

function showLogin(message) {
  csrfToken = null;
  stopRefresh();
  document.querySelectorAll(".page").forEach((p) => { p.hidden = true; });
  $("#nav").hidden = true;
  $("#login").hidden = false;
  say(message);
  $("#master-key").focus();
}

async function login(event) {
  event.preventDefault();
  const field = $("#master-key");
  const response = await fetch("/ui/login", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ master_key: field.value }),
    credentials: "same-origin",
  });
  field.value = "";
  if (!response.ok) {
    say(response.status === 401 ? "Wrong master key." : "Login failed (" + response.status + ").");
    return;
  }
  csrfToken = (await response.json()).csrf_token;
  enter();
}

async function logout() {
  await fetch("/ui/logout", { method: "POST", headers: { "x-switchyard-csrf": csrfToken || "" }, credentials: "same-origin" });
  location.hash = "";
  showLogin("Logged out.");
}

function enter() {
  $("#login").hidden = true;
  $("#nav").hidden = false;
  say("");
  route();
}

// --- pages ---

const PAGES = {
  overview: loadOverview,
  keys: loadKeys,
  spend: () => loadSpend(false),
  accounts: loadAccounts,
  deployments: loadDeployments,
  config: loadConfig,
};

function stopRefresh() {
  if (refreshTimer) clearInterval(refreshTimer);
  refreshTimer = null;
}

function route() {
  if (!csrfToken) return;
  stopRefresh();
  say("");
  const name = PAGES[location.hash.slice(1)] ? location.hash.slice(1) : "overview";
  document.querySelectorAll(".page").forEach((p) => { p.hidden = p.id !== "page-" + name; });
  document.querySelectorAll("#nav a").forEach((a) => {
    if (a.getAttribute("href") === "#" + name) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  });
  PAGES[name]().catch((err) => say(err.message));
}

// Keys: create (the secret shown once), block or unblock, delete.
async function loadKeys() {
  const answer = await api("/key/list?return_full_object=true&size=1000");
  const body = $("#keys-table tbody");
  body.replaceChildren();
  for (const key of answer.keys) {
    const row = document.createElement("tr");
    row.dataset.key = key.token;
    cell(row, key.key_name ? key.key_name + " (" + key.token + ")" : key.token);
    cell(row, key.key_alias);
    cell(row, (key.models || []).join(", ") || "all");
    cell(row, usd(key.spend), true);
    cell(row, key.max_budget === null ? "" : usd(key.max_budget), true);
    cell(row, key.rpm_limit, true);
    cell(row, key.tpm_limit, true);
    cell(row, key.blocked ? "blocked" : "active");
    const actions = cell(row, "");
    actions.appendChild(button(key.blocked ? "Unblock" : "Block", () => keyAction(key.blocked ? "/key/unblock" : "/key/block", { key: key.token })));
    actions.appendChild(button("Delete", () => {
      if (confirm("Delete key " + key.token + "?")) keyAction("/key/delete", { keys: [key.token] });
    }));
    body.appendChild(row);
  }
}

async function keyAction(path, body) {
  try {
    await api(path, { method: "POST", body });
    say("Done: " + path.slice(5) + ".", true);
    await loadKeys();
  } catch (err) { say(err.message); }
}

async function createKey(event) {
  event.preventDefault();
  const form = event.target;
  const body = {};
  const text = (name) => form.elements[name].value.trim();
  if (text("key_alias")) body.key_alias = text("key_alias");
  for (const name of ["max_budget", "rpm_limit", "tpm_limit"]) {
    if (text(name) !== "") body[name] = Number(text(name));
  }
  const models = text("models").split(",").map((m) => m.trim()).filter(Boolean);
  if (models.length) body.models = models;
  try {
    const key = await api("/key/generate", { method: "POST", body });
    $("#key-secret-value").textContent = key.key;
    $("#key-secret").hidden = false;
    form.reset();
    say("Key " + key.token + " created.", true);
    await loadKeys();
  } catch (err) { say(err.message); }
}

// Spend log: filters, keyset pages, CSV export.
function spendQuery() {
  const form = $("#spend-form");
  const params = new URLSearchParams();
  for (const name of ["key_id", "model", "start_date", "end_date"]) {
    const value = form.elements[name].value.trim();
    if (value) params.set(name, value);
  }
  return params;
}

async function loadSpend(more) {
  const params = spendQuery();
  params.set("limit", "50");
  if (more && spendCursor) params.set("cursor", spendCursor);
  const response = await api("/spend/logs?" + params, { raw: true });
  spendCursor = response.headers.get("x-switchyard-next-cursor");
  const rows = await response.json();
  const body = $("#spend-table tbody");
  if (!more) body.replaceChildren();
  for (const log of rows) {
    const row = document.createElement("tr");
    cell(row, log.startTime);
    cell(row, log.request_id);
    cell(row, log.api_key);
    cell(row, log.model);
    cell(row, log.model_id);
    cell(row, log.total_tokens, true);
    cell(row, usd(log.spend), true);
    cell(row, log.metadata && log.metadata.status_code);
    body.appendChild(row);
  }
  $("#spend-more").hidden = !spendCursor;
}

async function exportCsv() {
  try {
    const response = await api("/spend/logs/csv?" + spendQuery(), { raw: true });
    const url = URL.createObjectURL(await response.blob());
    const link = document.createElement("a");
    link.href = url;
    link.download = "spend-logs.csv";
    document.body.appendChild(link);
    link.click();
    link.remove();
    URL.revokeObjectURL(url);
  } catch (err) { say(err.message); }
}

// Users and teams, with their budgets and spend.
async function loadAccounts() {
  const [users, teams] = await Promise.all([api("/user/list?page_size=1000"), api("/team/list")]);
  const userBody = $("#users-table tbody");
  userBody.replaceChildren();
  for (const user of users.users || []) {
    const row = document.createElement("tr");
    cell(row, user.user_id);
    cell(row, user.user_role);
    cell(row, usd(user.spend), true);
    cell(row, user.max_budget === null ? "" : usd(user.max_budget), true);
    cell(row, (user.teams || []).join(", "));
    userBody.appendChild(row);
  }
  const teamBody = $("#teams-table tbody");
  teamBody.replaceChildren();
  for (const team of teams) {
    const row = document.createElement("tr");
    cell(row, team.team_id);
    cell(row, team.team_alias);
    cell(row, usd(team.spend), true);
    cell(row, team.max_budget === null ? "" : usd(team.max_budget), true);
    cell(row, (team.members_with_roles || []).map((m) => m.user_id).join(", "));
    teamBody.appendChild(row);
  }
}

// Live deployments, refreshed while the page is shown.
async function loadDeployments() {
  await drawDeployments();
  refreshTimer = setInterval(() => drawDeployments().catch((err) => say(err.message)), 5000);
}

async function drawDeployments() {
  const answer = await api("/model/info");
  const body = $("#deployments-table tbody");
  body.replaceChildren();
  const ms = (v) => (v === null || v === undefined ? "" : Number(v).toFixed(1));
  for (const d of answer.data) {
    const info = d.model_info;
    const row = document.createElement("tr");
    cell(row, d.model_name);
    cell(row, info.id);
    cell(row, info.provider + "/" + info.upstream_model);
    cell(row, info.in_flight, true);
    cell(row, info.cooling_down ? "yes" : "no");
    cell(row, ms(info.mean_latency_ms), true);
    cell(row, ms(info.p95_latency_ms), true);
    cell(row, info.requests_this_minute, true);
    cell(row, info.tokens_this_minute, true);
    cell(row, (info.rpm || "-") + " / " + (info.tpm || "-"));
    body.appendChild(row);
  }
  $("#deployments-updated").textContent = "Updated " + new Date().toLocaleTimeString() + ".";
}

// The configuration, secrets redacted, and the last reload.
async function loadConfig() {
  const answer = await api("/config");
  const reload = answer.last_reload;
  totals($("#config-reload"), [
    ["Source", answer.source],
    ["Reloads", answer.reloads],
    ["Failed reloads", answer.reload_failures],
    ["Last reload", reload ? reload.at + (reload.ok ? " (served)" : " (refused: " + reload.error + ")") : "none since start"],
  ]);
  $("#config-text").textContent = JSON.stringify(answer.config, null, 2);
}

function totals(list, pairs) {
  list.replaceChildren();
  for (const [name, value] of pairs) {
    const div = document.createElement("div");
    const dt = document.createElement("dt");
    dt.textContent = name;
    const dd = document.createElement("dd");
    dd.textContent = value;
    div.append(dt, dd);
    list.appendChild(div);
  }
}

// Overview: calls, failures, p50/p99, tokens and spend over time per model or deployment,
// drawn as SVG line charts.
function percentile(counts, bounds, q) {
  const total = counts.reduce((a, b) => a + b, 0);
  if (!total) return null;
  let seen = 0;
  for (let i = 0; i < counts.length; i++) {
    seen += counts[i];
    if (seen >= q * total) return i < bounds.length ? bounds[i] : Infinity;
  }
  return Infinity;
}

const latencyText = (v) => (v === null ? "-" : v === Infinity ? "> 120000 ms" : "≤ " + v + " ms");

async function loadOverview() {
  const hours = $("#overview-hours").value;
  const by = $("#overview-by").value;
  const answer = await api("/overview?hours=" + hours);
  const bounds = answer.latency_bounds_ms;
  const slots = Math.round((answer.end_ms - answer.start_ms) / answer.bucket_ms);
  const lines = new Map();
  const all = { requests: 0, errors: 0, tokens: 0, cost: 0, counts: new Array(bounds.length + 1).fill(0) };
  for (const b of answer.series) {
    const name = by === "model" ? b.model : (b.deployment || "(none)");
    if (!lines.has(name)) {
      lines.set(name, Array.from({ length: slots }, () => ({ requests: 0, errors: 0, tokens: 0, cost: 0, counts: new Array(bounds.length + 1).fill(0) })));
    }
    const slot = lines.get(name)[Math.floor((b.start_ms - answer.start_ms) / answer.bucket_ms)];
    if (!slot) continue;
    const tokens = b.input_tokens + b.output_tokens;
    for (const target of [slot, all]) {
      target.requests += b.requests;
      target.errors += b.errors;
      target.tokens += tokens;
      target.cost += b.cost_usd;
      b.latency_counts.forEach((c, i) => { target.counts[i] += c; });
    }
  }
  totals($("#overview-totals"), [
    ["Requests", all.requests],
    ["Errors", all.errors],
    ["p50 latency", latencyText(percentile(all.counts, bounds, 0.5))],
    ["p99 latency", latencyText(percentile(all.counts, bounds, 0.99))],
    ["Tokens", all.tokens],
    ["Spend (USD)", usd(all.cost)],
  ]);
  const charts = $("#overview-charts");
  charts.replaceChildren();
  const finite = (v) => (v === null ? 0 : v === Infinity ? bounds[bounds.length - 1] : v);
  const metrics = [
    ["Requests", (s) => s.requests],
    ["Errors", (s) => s.errors],
    ["p50 latency (ms)", (s) => finite(percentile(s.counts, bounds, 0.5))],
    ["p99 latency (ms)", (s) => finite(percentile(s.counts, bounds, 0.99))],
    ["Tokens", (s) => s.tokens],
    ["Spend (USD)", (s) => s.cost],
  ];
  for (const [title, value] of metrics) {
    charts.appendChild(lineChart(title, lines, value, answer));
  }
}

function svg(name, attributes) {
  const element = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attributes)) element.setAttribute(k, v);
  return element;
}

function lineChart(title, lines, value, answer) {
  const [width, height, left, bottom] = [440, 160, 48, 18];
  const figure = document.createElement("figure");
  const caption = document.createElement("figcaption");
  caption.textContent = title;
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": title + " over time" });
  let max = 0;
  for (const slots of lines.values()) for (const s of slots) max = Math.max(max, value(s));
  if (!max) max = 1;
  chart.appendChild(svg("line", { x1: left, y1: height - bottom, x2: width, y2: height - bottom, stroke: "#999" }));
  chart.appendChild(svg("line", { x1: left, y1: 4, x2: left, y2: height - bottom, stroke: "#999" }));
  const top = svg("text", { x: 2, y: 12 });
  top.textContent = max < 1 ? max.toPrecision(2) : String(Math.round(max));
  const zero = svg("text", { x: 2, y: height - bottom });
  zero.textContent = "0";
  const from = svg("text", { x: left, y: height - 4 });
  from.textContent = new Date(answer.start_ms).toLocaleString();
  const to = svg("text", { x: width - 4, y: height - 4, "text-anchor": "end" });
  to.textContent = new Date(answer.end_ms).toLocaleString();
  chart.append(top, zero, from, to);
  const legend = document.createElement("ul");
  legend.className = "legend";
  let i = 0;
  for (const [name, slots] of lines) {
    const color = COLORS[i++ % COLORS.length];
    const step = (width - left) / Math.max(1, slots.length - 1);
    const points = slots.map((s, n) => `${(left + n * step).toFixed(1)},${(height - bottom - (value(s) / max) * (height - bottom - 6)).toFixed(1)}`);
    chart.appendChild(svg("polyline", { points: points.join(" "), fill: "none", stroke: color, "stroke-width": 2 }));
    const item = document.createElement("li");
    const swatch = svg("svg", { width: 12, height: 12, "aria-hidden": "true" });
    swatch.appendChild(svg("rect", { width: 12, height: 12, fill: color }));
    item.append(swatch, " " + name);
    legend.appendChild(item);
  }
  figure.append(caption, chart, legend);
  return figure;
}

// --- start ---

document.addEventListener("DOMContentLoaded", async () => {
  $("#login-form").addEventListener("submit", login);
  $("#logout").addEventListener("click", logout);
  $("#key-form").addEventListener("submit", createKey);
  $("#spend-form").addEventListener("submit", (e) => { e.preventDefault(); loadSpend(false).catch((err) => say(err.message)); });
  $("#spend-more").addEventListener("click", () => loadSpend(true).catch((err) => say(err.message)));
  $("#spend-csv").addEventListener("click", exportCsv);
  $("#overview-hours").addEventListener("change", () => loadOverview().catch((err) => say(err.message)));
  $("#overview-by").addEventListener("change", () => loadOverview().catch((err) => say(err.message)));
  window.addEventListener("hashchange", () => {
    route();
    // Keyboard and screen-reader users land on the new page's heading.
    const heading = document.querySelector(".page:not([hidden]) h2");
    if (heading) heading.focus();
  });
  const response = await fetch("/ui/session", { credentials: "same-origin" });
  if (response.ok) {
    csrfToken = (await response.json()).csrf_token;
    enter();
  } else {
    showLogin("");
  }
});
