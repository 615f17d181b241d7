// The dashboard of l402 serve: plain JavaScript over the admin API's REST
// paths (docs/admin.md), with the admin macaroon the operator enters once,
// kept in sessionStorage and sent in the Grpc-Metadata-Macaroon header.
// Everything is drawn with DOM calls (never HTML from data) and the charts
// are inline SVG. docs/dashboard.md describes it.
"use strict";

const API = "/api/admin/";
const KEY = "l402-admin-macaroon";
const PAGE = 25;
const COLORS = ["#5b3cc4", "#1f8a4c", "#d9480f", "#1971c2", "#c2255c",
  "#5c940d", "#862e9c", "#e67700"];
const SVG = "http://www.w3.org/2000/svg";

const $ = (sel, root = document) => root.querySelector(sel);
const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));
const num = (v) => Number(v || 0);
const fmt = (v) => num(v).toLocaleString("en-US");

// el makes an element with attributes and children (strings are text).
function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children) {
    if (c === null || c === undefined) continue;
    e.append(typeof c === "string" || typeof c === "number" ?
      document.createTextNode(String(c)) : c);
  }
  return e;
}

// svg makes an SVG element.
function svg(tag, attrs = {}, ...children) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  for (const c of children) {
    e.append(typeof c === "string" ? document.createTextNode(c) : c);
  }
  return e;
}

// status shows a message under the header.
function status(msg, kind = "") {
  const s = $("#status");
  s.textContent = msg;
  s.dataset.kind = kind;
}

class APIError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

// api calls a REST path with the macaroon and returns its JSON; an error
// answer throws with the API's message. A refused macaroon signs out.
async function api(method, path, body) {
  const mac = sessionStorage.getItem(KEY);
  const opts = {method, cache: "no-store", credentials: "omit",
    headers: {"Grpc-Metadata-Macaroon": mac || ""}};
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  const r = await fetch(API + path, opts);
  const text = await r.text();
  let data = {};
  try {
    data = text ? JSON.parse(text) : {};
  } catch (e) {
    data = {message: text};
  }
  if (r.status === 401) {
    signOut("serve refused the macaroon: " + (data.message || r.status));
    throw new APIError(401, data.message || "unauthorized");
  }
  if (!r.ok) {
    throw new APIError(r.status, data.message || r.statusText);
  }
  return data;
}

// query makes a query string of the set values.
function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== "" && v !== undefined && v !== null) q.set(k, v);
  }
  const s = q.toString();
  return s ? "?" + s : "";
}

// ---- signing in -----------------------------------------------------

// toHex is bytes as lower-case hex.
function toHex(buf) {
  return Array.from(new Uint8Array(buf),
    (b) => b.toString(16).padStart(2, "0")).join("");
}

// signIn checks a macaroon with the API and keeps it for the session.
async function signIn(hex) {
  hex = hex.trim().toLowerCase();
  if (!/^([0-9a-f]{2})+$/.test(hex)) {
    $("#login-error").textContent = "That is not hex: paste the output " +
      "of xxd -ps -c 1000 admin.macaroon, or choose the file.";
    return;
  }
  sessionStorage.setItem(KEY, hex);
  try {
    await api("GET", "info");
  } catch (e) {
    if (!(e instanceof APIError) || e.code !== 401) {
      sessionStorage.removeItem(KEY);
      $("#login-error").textContent = "The admin API did not answer: " +
        e.message;
    }
    return;
  }
  $("#login-error").textContent = "";
  $("#macaroon").value = "";
  $("#macaroon-file").value = "";
  start();
}

// signOut forgets the macaroon and shows the sign-in form.
function signOut(why) {
  sessionStorage.removeItem(KEY);
  $("#nav").hidden = true;
  $$(".page").forEach((p) => { p.hidden = true; });
  $("#login").hidden = false;
  $("#node-info").textContent = "";
  $("#login-error").textContent = why || "";
  status("");
}

// ---- pages ----------------------------------------------------------

const pages = {overview: showOverview, services: showServices,
  transactions: showTransactions, tokens: showTokens};

// start shows the app once signed in.
async function start() {
  $("#login").hidden = true;
  $("#nav").hidden = false;
  try {
    const info = await api("GET", "info");
    $("#node-info").textContent = [info.network, info.listen_addr,
      info.version].filter(Boolean).join(" · ");
  } catch (e) {
    return;
  }
  route();
}

// route shows the page the URL's fragment names.
function route() {
  if (!sessionStorage.getItem(KEY)) {
    signOut();
    return;
  }
  let name = location.hash.replace(/^#/, "");
  if (!pages[name]) name = "overview";
  $$(".page").forEach((p) => { p.hidden = p.id !== "page-" + name; });
  $$("#nav a").forEach((a) => {
    a.classList.toggle("current", a.dataset.page === name);
  });
  status("");
  pages[name]().catch((e) => {
    if (!(e instanceof APIError) || e.code !== 401) {
      status(e.message, "error");
    }
  });
}

// ---- overview -------------------------------------------------------

// dayString is a Date's UTC day, YYYY-MM-DD.
function dayString(d) {
  return d.toISOString().slice(0, 10);
}

// days lists the days from..to (YYYY-MM-DD, inclusive).
function days(from, to) {
  const out = [];
  const d = new Date(from + "T00:00:00Z");
  const end = new Date(to + "T00:00:00Z");
  while (d <= end && out.length < 4000) {
    out.push(dayString(d));
    d.setUTCDate(d.getUTCDate() + 1);
  }
  return out;
}

async function showOverview() {
  const page = $("#page-overview");
  page.dataset.loaded = "false";
  const range = $("#range").value;
  let params = {};
  let from = "";
  const to = dayString(new Date());
  if (range !== "all") {
    const start = new Date();
    start.setUTCHours(0, 0, 0, 0);
    start.setUTCDate(start.getUTCDate() - (Number(range) - 1));
    from = dayString(start);
    params = {from: start.toISOString().replace(/\.\d+Z$/, "Z"),
      to: new Date().toISOString().replace(/\.\d+Z$/, "Z")};
  }
  const st = await api("GET", "stats" + query(params));

  $("#revenue-total").textContent = fmt(st.total_revenue_sats);
  $("#settled-total").textContent = fmt(st.transaction_count);
  $("#challenges-total").textContent = fmt(st.challenges);
  $("#paid-total").textContent = fmt(st.paid_requests);
  $("#conversion").textContent = percent(st.transaction_count,
    st.challenges);
  $("#shadow-card").hidden = num(st.shadow_challenges) === 0;
  $("#shadow-total").textContent = fmt(st.shadow_revenue_sats);
  $("#shadow-challenges").textContent = fmt(st.shadow_challenges);

  const daily = st.daily || [];
  if (!from) {
    from = daily.length ? daily[0].date : to;
  }
  const span = days(from, to);
  const services = Array.from(new Set(daily.map((d) => d.service_name)))
    .sort();
  const color = {};
  services.forEach((s, i) => { color[s] = COLORS[i % COLORS.length]; });

  // Revenue by day, stacked by service.
  const revenue = span.map((day) => ({label: day, parts: services.map(
    (s) => {
      const d = daily.find((x) => x.date === day && x.service_name === s);
      return {name: s, value: d ? num(d.revenue_sats) : 0, color: color[s]};
    })}));
  drawBars($("#chart-revenue"), revenue, "sat");

  // 402s and paid requests by day, all services.
  const sum = (day, field) => daily.filter((x) => x.date === day)
    .reduce((a, x) => a + num(x[field]), 0);
  drawLines($("#chart-traffic"), span, [
    {name: "402s", color: "#d9480f",
      values: span.map((d) => sum(d, "challenges"))},
    {name: "paid requests", color: "#1f8a4c", dash: "5 3",
      values: span.map((d) => sum(d, "paid_requests"))},
  ]);

  const body = $("#by-service tbody");
  body.replaceChildren();
  for (const s of st.service_breakdown || []) {
    body.append(el("tr", {"data-service": s.service_name},
      el("td", {text: s.service_name}),
      el("td", {class: "num", text: fmt(s.total_revenue_sats)}),
      el("td", {class: "num", text: fmt(s.transaction_count)}),
      el("td", {class: "num", text: fmt(s.challenges)}),
      el("td", {class: "num", text: fmt(s.paid_requests)}),
      el("td", {class: "num", text: percent(s.transaction_count,
        s.challenges)}),
      el("td", {class: "num", text: fmt(s.shadow_revenue_sats)})));
  }
  if (!body.children.length) {
    body.append(el("tr", {}, el("td", {colspan: 7, class: "empty",
      text: "Nothing sold in this range yet."})));
  }
  page.dataset.loaded = "true";
}

// percent is a / b as a percentage, or – without any b.
function percent(a, b) {
  if (num(b) === 0) return "–";
  return (100 * num(a) / num(b)).toFixed(1) + "%";
}

// drawBars draws stacked bars, one per item of data: {label, parts:
// [{name, value, color}]}.
function drawBars(box, data, unit) {
  box.replaceChildren();
  const W = 720, H = 200, L = 48, B = 22, T = 10;
  const max = Math.max(1, ...data.map((d) => d.parts.reduce(
    (a, p) => a + p.value, 0)));
  const step = (W - L - 4) / Math.max(1, data.length);
  const bw = Math.max(1, step * 0.7);
  const y = (v) => T + (H - T - B) * (1 - v / max);
  const chart = svg("svg", {viewBox: `0 0 ${W} ${H}`, role: "img",
    "aria-label": "revenue by day"});
  axis(chart, W, H, L, B, T, max);
  data.forEach((d, i) => {
    let base = 0;
    const x = L + i * step + (step - bw) / 2;
    for (const p of d.parts) {
      if (!p.value) continue;
      const r = svg("rect", {x: x.toFixed(1), width: bw.toFixed(1),
        y: y(base + p.value).toFixed(1),
        height: (y(base) - y(base + p.value)).toFixed(1), fill: p.color,
        "data-day": d.label, "data-service": p.name, "data-value": p.value},
      svg("title", {}, `${d.label} ${p.name}: ${fmt(p.value)} ${unit}`));
      chart.append(r);
      base += p.value;
    }
  });
  dateLabels(chart, data.map((d) => d.label), L, step, H);
  box.append(chart);
  const names = Array.from(new Set(data.flatMap((d) => d.parts.map(
    (p) => p.name))));
  legend(box, names.map((n) => ({name: n, color: data[0].parts.find(
    (p) => p.name === n).color})));
  if (max === 1 && data.every((d) => d.parts.every((p) => !p.value))) {
    box.append(el("div", {class: "empty", text: "No revenue in this range."}));
  }
}

// drawLines draws a line per series over the labels.
function drawLines(box, labels, series) {
  box.replaceChildren();
  const W = 720, H = 200, L = 48, B = 22, T = 10;
  const max = Math.max(1, ...series.flatMap((s) => s.values));
  const step = (W - L - 4) / Math.max(1, labels.length);
  const x = (i) => L + i * step + step / 2;
  const y = (v) => T + (H - T - B) * (1 - v / max);
  const chart = svg("svg", {viewBox: `0 0 ${W} ${H}`, role: "img",
    "aria-label": "402s and paid requests by day"});
  axis(chart, W, H, L, B, T, max);
  for (const s of series) {
    const points = s.values.map((v, i) => `${x(i).toFixed(1)},` +
      `${y(v).toFixed(1)}`).join(" ");
    const line = svg("polyline", {points, fill: "none", stroke: s.color,
      "stroke-width": 2, "data-series": s.name});
    if (s.dash) line.setAttribute("stroke-dasharray", s.dash);
    chart.append(line);
    s.values.forEach((v, i) => {
      chart.append(svg("circle", {cx: x(i).toFixed(1), cy: y(v).toFixed(1),
        r: 2.5, fill: s.color},
      svg("title", {}, `${labels[i]} ${s.name}: ${fmt(v)}`)));
    });
  }
  dateLabels(chart, labels, L, step, H);
  box.append(chart);
  legend(box, series);
}

// axis draws the y axis with its top and zero values and a grid line.
function axis(chart, W, H, L, B, T, max) {
  chart.append(svg("line", {x1: L, y1: H - B, x2: W, y2: H - B,
    stroke: "#c9c5da"}));
  chart.append(svg("line", {x1: L, y1: T, x2: W, y2: T, stroke: "#eeecf5"}));
  chart.append(svg("text", {x: L - 6, y: T + 4, "text-anchor": "end"},
    fmt(max)));
  chart.append(svg("text", {x: L - 6, y: H - B + 4, "text-anchor": "end"},
    "0"));
}

// dateLabels writes the first, middle and last day under the axis.
function dateLabels(chart, labels, L, step, H) {
  const at = new Set([0, Math.floor((labels.length - 1) / 2),
    labels.length - 1]);
  for (const i of at) {
    if (i < 0 || !labels[i]) continue;
    chart.append(svg("text", {x: (L + i * step + step / 2).toFixed(1),
      y: H - 6, "text-anchor": "middle"}, labels[i].slice(5)));
  }
}

// legend writes the colours' names.
function legend(box, items) {
  const l = el("div", {class: "legend"});
  for (const it of items) {
    const s = el("span", {text: it.name});
    s.style.setProperty("--swatch", it.color);
    l.append(s);
  }
  box.append(l);
}

// ---- services -------------------------------------------------------

let serviceNames = [];

async function showServices() {
  const res = await api("GET", "services");
  const body = $("#services-table tbody");
  body.replaceChildren();
  serviceNames = (res.services || []).map((s) => s.name);
  for (const s of res.services || []) {
    const price = el("input", {type: "number", min: 0, step: 1,
      value: num(s.price), "data-price": s.name,
      "aria-label": "price of " + s.name, disabled: s.dynamic_price});
    const save = el("button", {type: "button", "data-save": s.name,
      text: "Save", disabled: s.dynamic_price,
      onclick: () => savePrice(s.name, price)});
    const disable = el("button", {type: "button", class: "danger",
      "data-disable": s.name, text: "Disable",
      onclick: () => disableService(s.name, disable)});
    body.append(el("tr", {"data-service": s.name},
      el("td", {text: s.name}),
      el("td", {text: s.source}),
      el("td", {text: s.mode || "live"}),
      el("td", {text: s.auth || "on"}),
      el("td", {class: "mono", text: s.path_regexp || "(every path)"}),
      el("td", {class: "mono", text: `${s.protocol}://${s.address}`}),
      el("td", {}, s.dynamic_price ? el("span", {text: "dynamic"}) :
        el("div", {class: "actions"}, price, save)),
      el("td", {}, disable)));
  }
  if (!body.children.length) {
    body.append(el("tr", {}, el("td", {colspan: 8, class: "empty",
      text: "No service is in force."})));
  }
}

// savePrice sets a service's price through UpdateService.
async function savePrice(name, input) {
  const v = input.value.trim();
  if (!/^\d+$/.test(v)) {
    status("The price is a whole number of satoshis.", "error");
    return;
  }
  try {
    const s = await api("PUT", "services/" + encodeURIComponent(name),
      {price: v});
    status(`${name}: ${fmt(s.price)} sat from the next challenge on.`, "ok");
    await showServices();
  } catch (e) {
    if (e.code !== 401) status(`${name}: ${e.message}`, "error");
  }
}

// disableService deletes a service after a second click.
async function disableService(name, button) {
  if (button.dataset.armed !== "true") {
    button.dataset.armed = "true";
    button.textContent = "Click again to disable";
    return;
  }
  try {
    await api("DELETE", "services/" + encodeURIComponent(name));
    status(`${name} is disabled on every replica.`, "ok");
    await showServices();
  } catch (e) {
    if (e.code !== 401) status(`${name}: ${e.message}`, "error");
  }
}

// createService posts the create form.
async function createService(ev) {
  ev.preventDefault();
  const f = new FormData(ev.target);
  const body = {};
  for (const [k, v] of f.entries()) {
    if (String(v).trim() !== "") body[k] = String(v).trim();
  }
  try {
    const s = await api("POST", "services", body);
    status(`${s.name} created at ${fmt(s.price)} sat.`, "ok");
    ev.target.reset();
    await showServices();
  } catch (e) {
    if (e.code !== 401) status(e.message, "error");
  }
}

// ---- transactions ---------------------------------------------------

const txState = {offset: 0, total: 0};

async function showTransactions() {
  if (!serviceNames.length) {
    const res = await api("GET", "services");
    serviceNames = (res.services || []).map((s) => s.name);
  }
  const sel = $("#tx-filter select[name=service]");
  const chosen = sel.value;
  sel.replaceChildren(el("option", {value: "", text: "any"}),
    ...serviceNames.map((n) => el("option", {value: n, text: n,
      selected: n === chosen})));

  const f = new FormData($("#tx-filter"));
  const params = {service: f.get("service"), state: f.get("state"),
    limit: PAGE, offset: txState.offset};
  const from = f.get("from"), to = f.get("to");
  if (from || to) {
    params.start_date = (from || "1970-01-01") + "T00:00:00Z";
    params.end_date = (to || dayString(new Date())) + "T23:59:59Z";
  }
  const res = await api("GET", "transactions" + query(params));
  txState.total = num(res.total_count);
  const body = $("#tx-table tbody");
  body.replaceChildren();
  for (const t of res.transactions || []) {
    body.append(el("tr", {"data-state": t.state},
      el("td", {class: "num", text: t.id}),
      el("td", {text: t.service_name}),
      el("td", {class: "num", text: fmt(t.price_sats)}),
      el("td", {text: t.scheme}),
      el("td", {class: "state-" + t.state, text: t.state +
        (t.revoked_at ? " (revoked)" : "")}),
      el("td", {text: when(t.created_at)}),
      el("td", {text: when(t.settled_at)}),
      el("td", {class: "mono", title: t.token_id,
        text: t.token_id.slice(0, 16) + "…"})));
  }
  if (!body.children.length) {
    body.append(el("tr", {}, el("td", {colspan: 8, class: "empty",
      text: "No transaction matches."})));
  }
  pager($("#tx-pager"), txState);
}

// when is an RFC 3339 time as a short UTC one.
function when(t) {
  return t ? t.replace("T", " ").replace("Z", " UTC") : "";
}

// pager shows where a page is, and enables its buttons.
function pager(box, st) {
  const first = st.total ? st.offset + 1 : 0;
  const last = Math.min(st.offset + PAGE, st.total);
  $(".where", box).textContent = `${first}–${last} of ${st.total}`;
  $("[data-step='-1']", box).disabled = st.offset === 0;
  $("[data-step='1']", box).disabled = last >= st.total;
}

// ---- tokens ---------------------------------------------------------

const tokState = {offset: 0, total: 0};

async function showTokens() {
  const res = await api("GET", "tokens" + query({limit: PAGE,
    offset: tokState.offset}));
  tokState.total = num(res.total_count);
  const body = $("#tokens-table tbody");
  body.replaceChildren();
  for (const t of res.tokens || []) {
    const revoke = el("button", {type: "button", class: "danger",
      "data-revoke": t.token_id, text: "Revoke",
      onclick: () => revokeToken(t.token_id, revoke)});
    body.append(el("tr", {"data-token": t.token_id},
      el("td", {class: "mono", text: t.token_id}),
      el("td", {text: t.service_name}),
      el("td", {class: "num", text: fmt(t.price_sats)}),
      el("td", {text: when(t.settled_at)}),
      el("td", {}, revoke)));
  }
  if (!body.children.length) {
    body.append(el("tr", {}, el("td", {colspan: 5, class: "empty",
      text: "No token is in use."})));
  }
  pager($("#tokens-pager"), tokState);
}

// revokeToken revokes after a second click; the call answers once every
// replica refuses the token.
async function revokeToken(id, button) {
  if (button.dataset.armed !== "true") {
    button.dataset.armed = "true";
    button.textContent = "Click again to revoke";
    return;
  }
  button.disabled = true;
  button.textContent = "Revoking…";
  try {
    await api("DELETE", "tokens/" + encodeURIComponent(id));
    status(`Token ${id.slice(0, 16)}… is revoked on every replica.`, "ok");
    await showTokens();
  } catch (e) {
    if (e.code !== 401) status(e.message, "error");
  }
}

// ---- wiring ---------------------------------------------------------

document.addEventListener("DOMContentLoaded", () => {
  $("#login-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    signIn($("#macaroon").value);
  });
  $("#macaroon-file").addEventListener("change", async (ev) => {
    const file = ev.target.files[0];
    if (file) signIn(toHex(await file.arrayBuffer()));
  });
  $("#sign-out").addEventListener("click", () => signOut());
  $("#range").addEventListener("change", route);
  $("#create-form").addEventListener("submit", createService);
  $("#tx-filter").addEventListener("submit", (ev) => {
    ev.preventDefault();
    txState.offset = 0;
    route();
  });
  for (const [box, st] of [["#tx-pager", txState],
    ["#tokens-pager", tokState]]) {
    $$("button", $(box)).forEach((b) => b.addEventListener("click", () => {
      st.offset = Math.max(0, st.offset + Number(b.dataset.step) * PAGE);
      route();
    }));
  }
  window.addEventListener("hashchange", route);
  if (sessionStorage.getItem(KEY)) {
    start();
  } else {
    signOut();
  }
});
