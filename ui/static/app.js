// Signet's status page: reads the admin API with the token from the URL fragment and draws
// what it finds. It only reads (every call is a GET) and writes data into the page as text,
// never as markup, except the rollover picture, which is parsed as an SVG document.
"use strict";

const token = (() => {
  const m = /(?:^|[#&])token=([^&]+)/.exec(location.hash);
  const t = m ? decodeURIComponent(m[1]) : sessionStorage.getItem("signet-token") || "";
  if (m) {
    // Keep it for reloads of this tab only, and take it out of the address bar and history.
    sessionStorage.setItem("signet-token", t);
    history.replaceState(null, "", location.pathname + location.search);
  }
  return t;
})();

async function get(path, as) {
  const headers = {};
  if (token) headers["Authorization"] = "Bearer " + token;
  const r = await fetch(path, { headers, credentials: "omit", cache: "no-store" });
  if (as === "status") return r;
  if (!r.ok) {
    let msg = r.status + " " + r.statusText;
    try { const e = await r.json(); if (e.Error) msg = e.Error.Code + ": " + e.Error.Message; } catch (_) {}
    throw new Error(path + ": " + msg);
  }
  return as === "text" ? r.text() : r.json();
}

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  for (const k of kids) e.append(k instanceof Node ? k : document.createTextNode(k == null ? "" : String(k)));
  return e;
}

function table(head, rows) {
  const t = el("table", {}, el("tr", {}, ...head.map(h => el("th", {}, h))));
  for (const r of rows) t.append(el("tr", {}, ...r.map(c => c instanceof Node ? el("td", {}, c) : el("td", {}, c))));
  return t;
}

function badge(text) {
  const cls = { SIGNING: "ok", ACTIVE: "ok", loaded: "ok", NOT_SIGNING: "", INACTIVE: "",
    ACTION_NEEDED: "bad", INTERNAL_FAILURE: "bad", stale: "warn", SERVFAIL: "bad" }[text] || "";
  return el("span", { class: "badge " + cls }, text);
}

function when(t) { return t ? t.replace("T", " ").replace(/\.\d+/, "") : "-"; }

async function zoneCard(z) {
  const card = el("div", { class: "zone", id: "zone-" + z.Zone });
  const state = !z.Loaded ? "SERVFAIL" : z.Failing ? "stale" : "loaded";
  card.append(el("h3", {}, z.Zone + " ", badge(state)));
  card.append(table(["Serial", "Source", "Loaded", "Last failure"],
    [[z.Loaded ? z.Serial : "-", z.From || "-", when(z.LastLoad), z.Error ? when(z.LastFailure) + ": " + z.Error : "-"]]));
  let d;
  try {
    d = await get("/v1/zones/" + encodeURIComponent(z.Zone) + "/dnssec");
  } catch (e) {
    card.append(el("p", { class: "muted" }, "DNSSEC: " + e.message));
    return card;
  }
  const sig = el("p", {}, "DNSSEC signing: ", badge(d.Status.ServeSignature));
  if (d.Status.StatusMessage) sig.append(" " + d.Status.StatusMessage);
  card.append(sig);
  const r = d.Rollover || {};
  card.append(el("p", { class: "muted" }, "Rollover: KSK " + (r.KSKRollover || "-") + ", ZSK lifetime " + (r.ZSKLifetime || "-") +
    (r.Rolling && r.AlgorithmFrom ? "; algorithm rollover " + r.AlgorithmFrom + " \u2192 " + r.AlgorithmTo + " in progress: " + (r.AlgorithmStep || "-") :
      r.Rolling ? "; " + r.Rolling + " rollover in progress" : "") +
    (r.Paused ? "; PAUSED: " + r.Reason : "")));

  card.append(el("h4", {}, "Key-signing keys"));
  if (!d.KeySigningKeys.length) card.append(el("p", { class: "muted" }, "No KSK."));
  for (const k of d.KeySigningKeys) {
    const info = table(["", ""], [
      ["Name", k.Name], ["Status", badge(k.Status)], ["Message", k.StatusMessage || "-"],
      ["Key store", k.KeyStore], ["Key tag", k.KeyTag],
      ["Signing algorithm", k.SigningAlgorithmType + " (" + k.SigningAlgorithmMnemonic + ")"],
      ["Digest algorithm", k.DigestAlgorithmType + " (" + k.DigestAlgorithmMnemonic + ")"],
      ["Digest", el("code", {}, k.DigestValue)],
      ["DS record", el("code", { class: "ds" }, k.DSZoneFile)],
      ["Public key", el("code", {}, k.PublicKey)],
      ["Created", when(k.CreatedDate)],
    ]);
    info.firstChild.remove(); // no header row for a key/value table
    card.append(el("div", { class: "ksk" }, info));
  }

  const zsks = (d.Keys || []).filter(k => k.Role === "ZSK");
  card.append(el("h4", {}, "Zone-signing keys"));
  card.append(zsks.length ? table(["Key tag", "Algorithm", "State", "Signs", "Next", "Next event"],
    zsks.map(k => [k.KeyTag, k.Algorithm, k.State, k.Signs ? "yes" : "no", when(k.Next), k.NextEvent || "-"]))
    : el("p", { class: "muted" }, "No ZSK."));

  if (d.Status.ServeSignature !== "NOT_SIGNING") {
    const det = el("details", { open: "" }, el("summary", {}, "Rollover timeline (next 400 days)"));
    const box = el("div", { class: "plan" });
    det.append(box);
    card.append(det);
    try {
      const svg = await get("/v1/zones/" + encodeURIComponent(z.Zone) + "/dnssec/plan?for=400d&format=svg", "text");
      const doc = new DOMParser().parseFromString(svg, "image/svg+xml");
      const root = doc.documentElement;
      if (root.nodeName !== "svg") throw new Error("the plan is not an SVG picture");
      box.append(document.importNode(root, true));
    } catch (e) {
      box.append(el("p", { class: "muted" }, e.message));
    }
  }
  return card;
}

// parseMetrics reads the Prometheus text format into {name: [{labels, value}]}.
function parseMetrics(text) {
  const out = {};
  for (const line of text.split("\n")) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels = {};
    for (const l of (m[2] || "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    (out[m[1]] = out[m[1]] || []).push({ labels, value: Number(m[3]) });
  }
  return out;
}

// The conditions deploy/prometheus/alerts.yml alerts on, read from the metrics now.
const checks = [
  ["signet_dnssec_internal_failure", v => v > 0, s => "DNSSEC internal failure (DNSSECInternalFailure)"],
  ["signet_dnssec_ksks_needing_action", v => v > 0, s => s.value + " KSK(s) need action (DNSSECKeySigningKeysNeedingAction)"],
  ["signet_dnssec_premade_signature_expiry_seconds", v => v > 0 && v < 86400, s => "pre-made DNSKEY signatures expire in " + Math.round(s.value / 60) + " min"],
  ["signet_zone_load_failing", v => v > 0, s => "the last reload failed; the previous version is served"],
  ["signet_signature_earliest_expiry_seconds", v => v < 86400, s => "a served RRSIG expires in " + Math.round(s.value / 60) + " min"],
  ["signet_signing_failures_total", v => v > 0, s => s.value + " answers were SERVFAIL because signing failed (since start)"],
];

async function alerts() {
  const box = document.getElementById("alerts");
  let m;
  try {
    m = parseMetrics(await get("/metrics", "text"));
  } catch (e) {
    box.replaceChildren(el("p", { class: "muted" }, "metrics: " + e.message));
    return;
  }
  const rows = [];
  for (const [name, bad, say] of checks) {
    for (const s of m[name] || []) if (bad(s.value)) rows.push([s.labels.zone || "(server)", say(s), el("code", {}, name)]);
  }
  box.replaceChildren(rows.length ? table(["Zone", "What", "Metric"], rows) : el("p", { class: "muted" }, "Nothing needs action."));
}

async function ready() {
  const b = document.getElementById("ready");
  try {
    const r = await get("/readyz", "status");
    b.textContent = r.ok ? "ready" : "not ready";
    b.className = "badge " + (r.ok ? "ok" : "bad");
  } catch (e) {
    b.textContent = "unreachable";
    b.className = "badge bad";
  }
}

async function refresh() {
  const err = document.getElementById("error");
  try {
    const { Zones } = await get("/v1/zones");
    const cards = [];
    for (const z of Zones) cards.push(await zoneCard(z));
    document.getElementById("zones").replaceChildren(...cards);
    err.hidden = true;
  } catch (e) {
    err.textContent = e.message + (token ? "" : " (open this page as /ui/#token=YOUR_ADMIN_TOKEN)");
    err.hidden = false;
  }
  await Promise.all([alerts(), ready()]);
  document.getElementById("updated").textContent = "updated " + new Date().toISOString().replace("T", " ").slice(0, 19) + " UTC";
  document.body.dataset.loaded = "true";
}

refresh();
setInterval(refresh, 30000);
