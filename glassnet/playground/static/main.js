// Wiring: the state (from the URL), the connection, the controls and the views. Updates from the
// server are merged as they arrive (curve points) and drawn once per animation frame (the
// latest heatmap, thumbnails and weights), so a slow frame never queues work.
//
// Who says what: the play button follows `status` messages (and the click itself), never the
// `playing` flag of an update, which may have been computed before a pause. The settings follow
// the page's own changes at once; the server's `settings` reply to a change is applied only when
// it answers the latest one (its `seq`), so quick clicks are not undone by older replies.

import { State, SETTINGS, LIMITS, LESSONS, EXTRA_HIDEABLE, defaults } from "./state.js";
import { Connection } from "./connection.js";
import { Controls } from "./controls.js";
import { Heatmap } from "./render/heatmap.js";
import { NetworkView, FLOW } from "./render/network.js";
import { LossChart } from "./render/chart.js";
import { renderConfusion } from "./render/confusion.js";
import { BackpropView } from "./render/backprop.js";
import { DatasetPicker } from "./render/datasets.js";
import { EnsembleView } from "./render/ensemble.js";
import { LessonsView } from "./render/lessons.js";
import { classColor } from "./render/colors.js";
import { wireIO } from "./io.js";
import { bytes, floats, epochText, el } from "./util.js";

const $ = id => document.getElementById(id);
const state = new State();
const fromUrl = State.parseHash(location.hash);
state.set(fromUrl.values, "url");
fromUrl.hidden.forEach(h => state.hidden.add(h));

const conn = new Connection(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`,
                            { maxBytes: LIMITS.maxMessageBytes });
const stats = { updates: 0, rendered: 0, renderMs: 0, messages: {} };
let decoded = null, latest = null, rafPending = false, playing = false, netInfo = null, lastTrace = null;
let setSeq = 0;  // the seq of the latest set message sent
let closeNote = "";  // why the server closed the connection, said again once it is back
/** How long banners stay (ms; 0: until dismissed or the next action). Tests may shorten them. */
const bannerTimes = { error: 15000, info: 8000, warn: 0 };

const controls = new Controls(document.body, state);
const datasets = new DatasetPicker($("datasets"), { state });
const heatmap = new Heatmap($("heatmap"), { size: 300, onClick: onHeatmapClick });
const network = new NetworkView($("network"), {
  state, limits: LIMITS,
  onEdit: e => conn.send("edit", e),
  onHoverNeuron: () => heatmap.preview(network.hoverPreview(decoded)),
});
const chart = new LossChart($("chart"), { width: 300, height: 110 });
const backprop = new BackpropView($("backprop"), {
  onPhase: v => { network.showValues(v); network.setFlowTrace(backprop.trace, backprop.phase); },
});
network.onFlowStatus = s => {
  setText("flow-status", s === "on" || s === "off" ? "" : `(${s})`);
  $("network").dataset.flow = s === "on" ? "on" : "off";
};
const ensemble = new EnsembleView($("ensemble"), { state, onFocus: m => state.set({ focus: m }) });
backprop.render();
wireIO(conn, { onError: m => banner(m, "error") });
const lessons = new LessonsView(document.body, { state, lessons: LESSONS, defaults, send: (type, fields) => act(type, fields) });
if (state.get("lesson")) $("lessons").open = true;
window.glassnet = { state, conn, stats, heatmap, network, chart, ensemble, lessons, bannerTimes, FLOW };

/** A user's action: the server is asked, and an error banner from an earlier action goes. */
function act(type, fields = {}) {
  if (!$("banner").hidden && $("banner").classList.contains("error")) $("banner").hidden = true;
  return conn.send(type, fields);
}

function sendSettings(settings) {
  setSeq += 1;
  act("set", { settings, seq: setSeq });
}

// -- state <-> server <-> URL ---------------------------------------------------------------------
/** What the page draws from the view settings; run for every change and once at the start
 * (the URL's values are read before any listener exists). */
function applyView(keys) {
  if (keys.some(k => ["problem", "dataset", "regDataset"].includes(k))) datasets.render();
  if (keys.some(k => ["problem", "classes"].includes(k))) { drawLabels(); drawLegend(); }
  if (keys.includes("showTestData")) { heatmap.showTest = state.get("showTestData"); heatmap.drawPoints(); }
  if (keys.includes("discretize")) { heatmap.discretize = state.get("discretize"); heatmap.drawBackground(); }
  if (keys.includes("linkFlow")) network.setFlow(state.get("linkFlow"));
}

state.onChange((keys, source) => {
  const serverKeys = State.serverKeys(keys);  // the page's own rows (link flow) stay here
  if (source !== "server" && source !== "hidden" && serverKeys.length) {
    sendSettings(Object.fromEntries(serverKeys.map(k => [k, state.get(k)])));
  }
  history.replaceState(null, "", `#${state.toHash()}`);
  applyView(keys);
  classroomUrl();
});
window.addEventListener("hashchange", () => {
  if (location.hash.slice(1) === state.toHash()) return;
  const p = State.parseHash(location.hash);
  state.hidden = p.hidden;
  state.set(p.values, "url");
  controls.applyHidden();
});

conn.onOpen(({ reconnected }) => {
  sendSettings(Object.fromEntries(State.serverKeys(Object.keys(state.values)).map(k => [k, state.get(k)])));
  if (reconnected) {
    setPlaying(false);
    banner(`${closeNote}Reconnected to the glassnet server, which started a new session: the network was `
           + "re-initialized (epoch 0) and trains from the start; the settings came back from this page.", "warn");
    closeNote = "";
  }
});
conn.onStatus(s => { $("conn-status").className = `conn ${s}`; $("conn-status").title = `server: ${s}`; });
conn.onRefused(r => {
  if (r.reason === "closed") {
    banner("Not connected to the glassnet server (reconnecting…): nothing was sent. Try again once the dot "
           + "at the top right is green.", "error");
    if (r.type === "play" || r.type === "pause") setPlaying(false);
  } else {
    banner(`That ${r.type} message is ${(r.bytes / 1e6).toFixed(1)} MB, more than the server reads `
           + `(${(r.limit / 1e6).toFixed(1)} MB); nothing was sent. Use a smaller file.`, "error");
  }
});
conn.onClose(e => {
  if (e.code === 1009) {
    closeNote = "The server closed the connection because a message was too large (1009): use a smaller file. ";
    banner(`${closeNote}Reconnecting…`, "error");
  }
  setPlaying(false);
});
conn.on("hello", m => datasets.setPreviews(m.previews));
conn.on("settings", m => {
  if (m.seq !== undefined && m.seq !== setSeq) return;  // a newer change of the page is on its way
  state.set(m.settings, "server");
});
conn.on("network", m => {
  netInfo = m;
  latest = null;  // an update not drawn yet is for the network before this one
  network.setStructure(m);
  chart.reset();
  if (m.focusOnly && ensemble.active) chart.append(ensemble.seriesOf(m.focus));  // another copy, same curves
  else ensemble.setNetwork(m);
  backprop.clear();
  heatmap.setMarker(null);
  $("params").textContent = `${m.params} parameters${m.members ? " per copy" : ""}`;
  $("focus-label").hidden = !m.members;
  if (m.members) {
    $("focus-label").textContent = `Copy ${m.focus + 1} of ${m.members.labels.length} (${m.members.labels[m.focus]}); `
      + "click another map in the ensemble view below to see it here.";
  }
  $("params").title = m.summary;
});
conn.on("data", m => {
  heatmap.setData(m, state.get("problem"), netInfo ? netInfo.classes : 2);
  ensemble.setPoints(m.train);
  backprop.clear();
  heatmap.setMarker(null);
});
conn.on("update", m => {
  stats.updates += 1;
  chart.append(m.curve);
  if (m.ensemble) ensemble.append(m.ensemble.curves, m.ensemble.status);
  latest = m;
  if (!rafPending) { rafPending = true; requestAnimationFrame(render); }
});
conn.on("status", m => setPlaying(m.playing));
conn.on("diverged", m => { banner(m.message, "warn"); setPlaying(false); });
conn.on("stopped", m => { banner(`Paused: ${m.reason}.`, "info"); setPlaying(false); });
conn.on("notice", m => banner(m.message, "info"));
conn.on("error", m => banner(m.message, "error"));
conn.on("trace", t => { lastTrace = t; backprop.show(t); heatmap.setMarker(t.point); });
for (const type of ["hello", "settings", "network", "data", "update", "status", "diverged", "stopped",
                    "notice", "error", "trace", "export"]) {
  conn.on(type, () => { stats.messages[type] = (stats.messages[type] || 0) + 1; });
}

// -- drawing ------------------------------------------------------------------------------------
function decode(m) {
  return {
    heat: bytes(m.heatmap), conf: m.heatmapConf ? bytes(m.heatmapConf) : null,
    thumbs: bytes(m.thumbs.data), thumbSize: m.thumbs.size,
    weights: m.weights.map(w => ({ shape: w.shape, W: floats(w.W), b: floats(w.b) })),
  };
}

/** Write a text only when it changed (every DOM write costs a style pass). */
function setText(id, text) { const e = $(id); if (e.textContent !== text) e.textContent = text; }

function fixed(v, digits = 3) { return v === null || v === undefined ? "–" : v.toFixed(digits); }

function render() {
  rafPending = false;
  const m = latest;
  if (!m) return;
  latest = null;
  const t0 = performance.now();
  decoded = decode(m);
  heatmap.setOutput({ values: decoded.heat, conf: decoded.conf, size: m.grid });
  network.update(decoded, m);
  if (network.hovered) heatmap.preview(network.hoverPreview(decoded));
  chart.draw();
  setText("epoch", epochText(m.epoch));
  setText("loss-test", fixed(m.loss.test));
  setText("loss-train", fixed(m.loss.train));
  document.querySelectorAll(".losses .acc").forEach(e => { e.style.display = m.accuracy ? "" : "none"; });
  if (m.accuracy) {
    setText("acc-test", m.accuracy.test === null ? "–" : `${(100 * m.accuracy.test).toFixed(1)}%`);
    setText("acc-train", m.accuracy.train === null ? "–" : `${(100 * m.accuracy.train).toFixed(1)}%`);
  }
  const confusion = JSON.stringify(m.confusion);
  if (confusion !== render.confusion) { render.confusion = confusion; renderConfusion($("confusion"), m.confusion); }
  if (m.ensemble) {
    ensemble.update({ ...m.ensemble, mapBytes: bytes(m.ensemble.maps), disBytes: bytes(m.ensemble.disagreement) });
  }
  const d = m.diagnostics;
  setText("diag-summary", d ? `· ${d.counts.dead} dead, ${d.counts.saturated} saturated, ${d.counts.duplicates} duplicate neurons` : "");
  stats.rendered += 1;
  stats.renderMs += performance.now() - t0;
}

const PLAY_ICON = '<svg viewBox="0 0 24 24" width="22" height="22"><path d="M8 5l11 7-11 7z" fill="currentColor"/></svg>';
const PAUSE_ICON = '<svg viewBox="0 0 24 24" width="22" height="22"><path d="M7 5h3.5v14H7zM13.5 5H17v14h-3.5z" fill="currentColor"/></svg>';

function setPlaying(p) {
  if (p === playing && $("play").innerHTML) return;
  playing = p;
  $("play").classList.toggle("playing", p);
  $("play").setAttribute("aria-label", p ? "pause" : "play");
  $("play").innerHTML = p ? PAUSE_ICON : PLAY_ICON;
}

/** One line over the page: errors go after bannerTimes.error ms or at the next action,
 * notices after bannerTimes.info ms, warnings (the NaN guard) when dismissed or replaced. */
function banner(text, kind = "info") {
  const b = $("banner");
  $("banner-text").textContent = text;
  b.className = `banner ${kind}`;
  b.hidden = false;
  clearTimeout(banner.timer);
  const after = bannerTimes[kind];
  if (after) banner.timer = setTimeout(() => { b.hidden = true; }, after);
}
$("banner-close").addEventListener("click", () => { $("banner").hidden = true; });

// -- buttons ------------------------------------------------------------------------------------
$("play").addEventListener("click", () => {
  const want = !playing;
  if (act(want ? "play" : "pause")) setPlaying(want);  // the server's status confirms (or corrects)
});
$("step").addEventListener("click", () => act("step"));
$("reset").addEventListener("click", () => act("reset"));
$("regenerate").addEventListener("click", () => act("regenerate"));
$("clear-points").addEventListener("click", () => act("clear_points"));
$("bp-random").addEventListener("click", () => {
  const t = heatmap.train;
  if (!t.length) return;
  const i = 3 * Math.floor(Math.random() * (t.length / 3));
  act("trace", { x1: t[i], x2: t[i + 1], label: t[i + 2] });
});
$("bp-apply").addEventListener("click", () => {
  if (lastTrace) act("trace", { x1: lastTrace.point[0], x2: lastTrace.point[1], label: lastTrace.label, apply: true });
});
$("bp-clear").addEventListener("click", () => { lastTrace = null; backprop.clear(); heatmap.setMarker(null); });

function onHeatmapClick(x1, x2) {
  const mode = document.querySelector("input[name=clickmode]:checked").value;
  if (mode === "draw") {
    act("add_point", { x1, x2, label: Number($("draw-label").value) });
    return;
  }
  const p = heatmap.nearest(x1, x2);
  if (p) act("trace", { x1: p[0], x2: p[1], label: p[2] });
}

function drawLabels() {
  const problem = state.get("problem");
  const options = problem === "regression" ? [1, 0.5, 0, -0.5, -1].map(v => [v, `value ${v}`])
    : problem === "multiclass" ? [...Array(state.get("classes")).keys()].map(k => [k, `class ${k}`])
    : [[1, "blue (class 1)"], [0, "orange (class 0)"]];
  $("draw-label").replaceChildren(...options.map(([v, t]) => el("option", { value: v, text: t })));
  if (problem !== "regression") {
    $("draw-label").style.borderColor = classColor(Number($("draw-label").value));
  }
}
/** The colour key under the output: values for two classes and regression, one swatch per
 * class for the multi-class problem (whose output is a class, not a number in [-1, 1]). */
function drawLegend() {
  const problem = state.get("problem"), box = $("legend");
  if (problem === "multiclass") {
    box.dataset.kind = "classes";
    box.replaceChildren(...[...Array(state.get("classes")).keys()].map(k =>
      el("span", { class: "class-key" }, el("span", { class: "swatch", style: `background:${classColor(k)}` }), `class ${k}`)),
      el("span", { class: "legend-note", text: "(paler: less sure)" }));
    return;
  }
  box.dataset.kind = "values";
  const [lo, hi] = problem === "regression" ? ["−1", "1"] : ["−1 (class 0)", "1 (class 1)"];
  box.replaceChildren(el("span", { text: lo }), el("div", { class: "scale" }), el("span", { text: hi }));
}

drawLabels();
setPlaying(false);
applyView(Object.keys(state.values));

// -- classroom mode -------------------------------------------------------------------------------
function classroomList() {
  const names = [...SETTINGS.map(r => [r.key, r.label]), ...Object.entries(EXTRA_HIDEABLE)];
  $("classroom-list").replaceChildren(...names.map(([key, label]) => {
    const box = el("input", { type: "checkbox", "data-key": key });
    box.checked = state.hidden.has(key);
    box.addEventListener("change", () => { state.setHidden(key, box.checked); controls.applyHidden(); });
    return el("label", {}, box, ` ${label} `, el("code", { text: key }));
  }));
}
function classroomUrl() { $("classroom-url").value = location.href; }
classroomList();
classroomUrl();
controls.applyHidden();
conn.connect();
