// The network diagram: input features, hidden neurons (each showing its output over the input
// square), output; links drawn on a canvas with width |w| and colour sign(w) (TF Playground's
// scales), a bias square on each neuron, a hover card to read and edit a weight or bias,
// +/- buttons for layers and neurons, and the diagnostics and backprop-trace annotations.
//
// Legibility with many neurons: a neuron is never smaller than MIN_NODE pixels (the diagram grows
// taller instead of shrinking them), and the links between two wide columns get thinner and
// lighter (LINK_FAN: up to that many neurons a side, TF Playground's 1-10 px; beyond it widths
// shrink in proportion) so that single strong weights still stand out of a dense mesh.
//
// Drawing cost: the links are drawn into a cache canvas only when their look (quantized width and
// colour) changes; each frame copies that cache, then draws the neurons' pictures from ONE atlas
// canvas (every hidden neuron's thumbnail in one ImageData, one putImageData per update).
//
// Link flow (the `linkFlow` view setting, TF Playground's moving dashes): light dashes move along
// every link at a speed proportional to the signal through it, the strongest link at
// FLOW.maxSpeed px/s. While training the signal of link i -> j is |w_ij| x mean |a_i| over the
// input square (a_i read from the neuron's thumbnail), moving forward; with a backprop trace
// shown it is that point's: |a_i w_ij| forward in the forward phase, |w_ij dL/dz_j| (what flows
// back to a_i) backwards in the backward phase, |dL/dw_ij| backwards in the update phase. The
// flow costs the updates nothing: while updates arrive (training) the dashes move with each
// update's drawing and draw no frames of their own; between updates (paused) they are drawn at
// most FLOW.fps times a second; never while the page is in the background; and they pause for
// FLOW.retryMs when the page's animation frames fall under FLOW.minFps a second (a busy machine).

import { paint, valueColor, classColor } from "./colors.js";
import { el, fmt } from "../util.js";
import { HoverCard } from "./hovercard.js";
import { TABLE } from "../state.js";

export const FEATURE_LABELS = { x: "X₁", y: "X₂", xSquared: "X₁²", ySquared: "X₂²", xTimesY: "X₁X₂",
                                sinX: "sin(X₁)", sinY: "sin(X₂)" };
const FEATURE_FN = { x: (a, b) => a, y: (a, b) => b, xSquared: a => a * a, ySquared: (a, b) => b * b,
                     xTimesY: (a, b) => a * b, sinX: a => Math.sin(a), sinY: (a, b) => Math.sin(b) };
const TOP = 90;
const MIN_NODE = 22, MIN_SLOT = 29;
const LINK_FAN = 6;
/** The link flow: dash length and period along a link (px), top speed (px/s), frames drawn per
 * second at most, the frame rate under which it pauses, and for how long; updates closer than
 * updateGapMs mean training: the dashes move with the updates' drawings then. */
export const FLOW = { dash: 5, period: 16, maxSpeed: 60, fps: 30, minFps: 20, retryMs: 5000, updateGapMs: 250 };
/** |a| of a thumbnail byte (b stands for a = b / 127.5 - 1) */
const ABS_BYTE = Float32Array.from({ length: 256 }, (_, b) => Math.abs(b / 127.5 - 1));

/** Bezier link from (x1, y1) to (x2, y2), as d3's linkHorizontal: control points at mid x. */
function bezierPoints(x1, y1, x2, y2, n = 14) {
  const mx = (x1 + x2) / 2, pts = [];
  for (let k = 0; k <= n; k++) {
    const t = k / n, u = 1 - t;
    pts.push([u * u * u * x1 + 3 * u * u * t * mx + 3 * u * t * t * mx + t * t * t * x2,
              u * u * u * y1 + 3 * u * u * t * y1 + 3 * u * t * t * y2 + t * t * t * y2]);
  }
  return pts;
}

/** Cumulative lengths along a polyline (cum[0] = 0, cum[last] = its length). */
function cumulative(pts) {
  const cum = new Float32Array(pts.length);
  for (let k = 1; k < pts.length; k++) cum[k] = cum[k - 1] + Math.hypot(pts[k][0] - pts[k - 1][0], pts[k][1] - pts[k - 1][1]);
  return cum;
}

function segDist2(p, a, b) {
  const dx = b[0] - a[0], dy = b[1] - a[1];
  const len = dx * dx + dy * dy || 1;
  const t = Math.max(0, Math.min(1, ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / len));
  const x = a[0] + t * dx - p[0], y = a[1] + t * dy - p[1];
  return x * x + y * y;
}

export class NetworkView {
  constructor(container, { state, limits, onEdit, onHoverNeuron }) {
    this.root = container;
    this.state = state;
    this.limits = limits;
    this.onEdit = onEdit;
    this.onHoverNeuron = onHoverNeuron;
    this.canvas = el("canvas", { class: "links" });
    this.layer = el("div", { class: "nodes" });
    // the canvas over the neurons' boxes (it draws their pictures inside the borders, and lets the
    // pointer through): nothing is painted over a canvas that changes every frame, so the page
    // composites one layer here, not two (headless Chromium composites in software)
    this.root.append(this.layer, this.canvas);
    this.card = new HoverCard(this.root);
    this.net = null;
    this.weights = null;
    this.hoverLink = null;
    this.root.addEventListener("mousemove", e => this._move(e));
    this.root.addEventListener("mouseleave", () => { this.hoverLink = null; this.card.hideUnlessEditing(); this.draw(); });
    this.root.addEventListener("click", e => { if (e.target === this.root) this._clickLink(e); });
    this.featureThumbs = this._featureThumbs(40);
    this.linkCanvas = document.createElement("canvas");  // the links, drawn when their look changes
    this.atlas = document.createElement("canvas");       // every hidden neuron's picture, one column
    this.outCanvas = document.createElement("canvas");   // the output neuron's picture (100 x 100)
    this.atlasImage = null; this.outImage = null;
    this.look = null; this.cachedLook = null;
    // link flow: what is wanted (the setting), what is shown (status), per-link phase and speed
    this.flow = { wanted: false, status: "off", phase: null, speed: null, trace: null, phaseName: "forward",
                  raf: 0, last: 0, lastDraw: 0, ticks: 0, windowStart: 0, fps: null, pausedUntil: 0 };
    this.onFlowStatus = null;
    document.addEventListener("visibilitychange", () => this._flowWake());
  }

  // -- structure --------------------------------------------------------------------------------
  setStructure(net) {
    this.net = net;
    this.hadDiagnostics = false;
    this.weights = null;
    this.hovered = null;
    const keys = Object.keys(FEATURE_LABELS);
    const active = keys.filter(k => this.state.get(k));
    const hidden = net.columns.slice(0, -1);
    const outputs = net.columns[net.columns.length - 1].units;
    const counts = [keys.length, ...hidden.map(c => c.units), outputs];
    const maxCount = Math.max(...counts);
    const slot = Math.max(MIN_SLOT, Math.min(48, Math.floor(440 / maxCount)));
    const node = Math.max(MIN_NODE, Math.round(slot * 0.76));
    const width = Math.max(this.root.clientWidth || 620, 420);
    const height = TOP + maxCount * slot + 16;
    const x0 = 84, xLast = width - 44;
    const nCols = hidden.length + 2;
    const colX = c => x0 + (xLast - x0) * c / (nCols - 1);
    this.geom = { slot, node, width, height, colX };
    this.root.style.height = `${height}px`;
    const dpr = window.devicePixelRatio || 1;
    this.canvas.width = width * dpr; this.canvas.height = height * dpr;
    this.canvas.style.width = `${width}px`; this.canvas.style.height = `${height}px`;
    this.linkCanvas.width = width * dpr; this.linkCanvas.height = height * dpr;
    this.cachedLook = null;
    this.layer.replaceChildren();
    const nodeAt = (c, k) => ({ x: colX(c), y: TOP + k * slot + slot / 2 });

    // input features: all seven, the active ones linked
    this.inputs = [];
    keys.forEach((key, k) => {
      const p = nodeAt(0, k);
      const on = this.state.get(key);
      // a picture, not a canvas: a canvas is a compositing layer of its own, and every box drawn
      // after it and over it would be one too
      const canvas = el("img", { src: this.featureThumbs[key], alt: "", draggable: "false" });
      const div = el("div", { class: `node feature ${on ? "active" : "inactive"}`, "data-feature": key, "data-lock": key,
                              title: `${FEATURE_LABELS[key]}: click to ${on ? "remove" : "add"} this input`,
                              style: this._box(p, node) }, canvas,
                     el("span", { class: "flabel", text: FEATURE_LABELS[key] }), el("div", { class: "val" }));
      div.addEventListener("click", () => this.state.set({ [key]: !this.state.get(key) }));
      this._hoverable(div, { feature: key, label: `input ${FEATURE_LABELS[key]}` });
      this.layer.append(div);
      if (on) this.inputs.push({ ...p, div });
    });

    // hidden columns and output
    this.columns = [];
    let hiddenCount = 0;
    net.columns.forEach((col, c) => {
      const isOut = c === net.columns.length - 1;
      const nodes = [];
      for (let k = 0; k < col.units; k++) {
        const p = nodeAt(c + 1, k);
        // the neuron's picture is drawn on the links canvas (one canvas for the whole diagram is
        // far cheaper to show each frame than a canvas per neuron), from the atlas (hidden
        // neurons) or the output's canvas; the div gives border and hover
        const bias = el("div", { class: "bias", title: "" });
        let drawn = true;
        const div = el("div", { class: `node ${isOut ? "output" : "hidden"} drawn`, style: this._box(p, node) },
                       bias, el("div", { class: "badge" }), el("div", { class: "val" }));
        if (isOut && net.problem === "multiclass") {
          div.classList.remove("drawn");
          drawn = false;
          div.style.background = classColor(k);
          div.append(el("span", { class: "olabel", text: `class ${k}` }));
        }
        const label = isOut ? (net.problem === "multiclass" ? `output: class ${k} logit` : "output")
                            : `layer ${c + 1}, neuron ${k + 1} (${col.activation})`;
        if (!isOut) this._hoverable(div, { column: c, index: k, label });
        bias.addEventListener("mouseenter", () => this._showBias(c, k, bias));
        bias.addEventListener("mouseleave", () => this.card.hideUnlessEditing());
        bias.addEventListener("click", e => { e.stopPropagation(); this._editBias(c, k, bias); });
        this.layer.append(div);
        nodes.push({ ...p, div, bias, atlasRow: isOut ? -1 : hiddenCount++, drawn, painted: false, dead: false });
      }
      this.columns.push({ nodes, isOut, activation: col.activation });
    });
    this._headers(hidden);
    this._linkGeometry();
    this._measureLook();
    this._flowSpeeds(null);
    this.draw();
  }

  _hoverable(div, what) {
    div.addEventListener("mouseenter", () => { this.hovered = what; this.onHoverNeuron(); });
    div.addEventListener("mouseleave", () => { this.hovered = null; this.onHoverNeuron(); });
  }

  /** What the output panel shows while a neuron is hovered: {values, size, label}, or null. */
  hoverPreview(decoded) {
    const h = this.hovered;
    if (!h) return null;
    if (h.feature) return { values: this.featureBytes[h.feature], size: 40, label: h.label };
    if (!decoded) return null;
    return { values: this.thumb(decoded, h.column, h.index), size: decoded.thumbSize, label: h.label };
  }

  _box(p, node) {
    return `left:${p.x - node / 2}px;top:${p.y - node / 2}px;width:${node}px;height:${node}px`;
  }

  _headers(hidden) {
    const { colX } = this.geom;
    const shape = this.state.get("networkShape"), acts = this.state.get("layerActivations");
    const maxL = this.limits.maxHiddenLayers, maxN = this.limits.maxNeurons;
    // Every handler reads the state when it runs, not the shape this diagram was drawn for: three
    // clicks before the server's reply are three changes (the page's state moves at once).
    const now = () => [[...this.state.get("networkShape")], [...this.state.get("layerActivations")]];
    const setShape = (s, a) => {
      while (a.length > s.length) a.pop();
      while (a.length && a[a.length - 1] === "") a.pop();
      this.state.set({ networkShape: s, layerActivations: a });
    };
    const head = el("div", { class: "layers-head", "data-hide": "numHiddenLayers networkShape" },
      el("button", { class: "round", title: "Add a hidden layer", disabled: shape.length >= maxL,
                     onclick: () => { const [s, a] = now(); if (s.length < maxL) setShape([...s, 2], a); } }, "+"),
      el("button", { class: "round", title: "Remove the last hidden layer", disabled: shape.length === 0,
                     onclick: () => { const [s, a] = now(); if (s.length) setShape(s.slice(0, -1), a); } }, "−"),
      el("span", { text: `${shape.length} hidden layer${shape.length === 1 ? "" : "s"}` }));
    head.style.left = `${(colX(0) + colX(hidden.length + 1)) / 2}px`;
    this.layer.append(head,
      el("div", { class: "col-title", style: `left:${colX(0)}px`, text: "Features" }),
      el("div", { class: "col-title", style: `left:${colX(hidden.length + 1)}px`, text: "Output" }));
    const spacing = colX(1) - colX(0), narrow = spacing < 84;
    hidden.forEach((col, c) => {
      const n = shape[c];
      const actRow = TABLE.activation, all = this.state.get("activation");
      const sel = el("select", { class: "layer-act", title: "Activation of this layer", "data-hide": "activation layerActivations" },
        el("option", { value: "", text: `${actRow.labels[all] ?? all} (all)` }),
        ...actRow.choices.map(a => el("option", { value: a, text: actRow.labels[a] ?? a, title: actRow.helps[a] ?? "" })));
      sel.value = acts[c] || "";
      sel.addEventListener("change", () => {
        const [s, a] = now();
        if (c >= s.length) return;
        while (a.length < s.length) a.push("");
        a[c] = sel.value;
        setShape(s, a);
      });
      const resize = delta => () => {
        const [s, a] = now();
        if (c < s.length && s[c] + delta >= 1 && s[c] + delta <= maxN) { s[c] += delta; setShape(s, a); }
      };
      const box = el("div", { class: "layer-ctl", style: `left:${colX(c + 1)}px` },
        el("div", { class: "pm", "data-hide": "numHiddenLayers networkShape" },
          el("button", { class: "round small", disabled: n >= maxN, title: "Add a neuron", onclick: resize(1) }, "+"),
          el("button", { class: "round small", disabled: n <= 1, title: "Remove a neuron", onclick: resize(-1) }, "−")),
        el("div", { class: "count", text: narrow ? String(n) : `${n} neuron${n === 1 ? "" : "s"}`,
                    title: `${n} neuron${n === 1 ? "" : "s"}` }), sel);
      sel.style.maxWidth = `${Math.max(34, spacing - 6)}px`;
      this.layer.append(box);
    });
  }

  _linkGeometry() {
    const half = this.geom.node / 2;
    this.links = [];
    this.columns.forEach((col, c) => {
      const sources = c === 0 ? this.inputs : this.columns[c - 1].nodes;
      // wide columns: thinner, lighter links (see LINK_FAN)
      const fan = Math.max(sources.length, col.nodes.length);
      const scale = Math.min(1, LINK_FAN / fan), alpha = Math.min(1, 0.3 + LINK_FAN / fan);
      sources.forEach((s, i) => col.nodes.forEach((t, j) => {
        const pts = bezierPoints(s.x + half, s.y, t.x - half, t.y);
        this.links.push({ k: this.links.length, c, i, j, pts, cum: cumulative(pts), scale, alpha });
      }));
    });
    this.flow.phase = new Float32Array(this.links.length).map((_, k) => (k * 7.3) % FLOW.period);
    this.flow.speed = new Float32Array(this.links.length);
  }

  // -- per update -------------------------------------------------------------------------------
  /** decoded: {thumbs: Uint8Array, thumbSize, weights: [{W, b, shape}], heat, conf}; msg: the update */
  update(decoded, msg) {
    if (!this.net || !this.fits(decoded.weights)) return;  // an update for the diagram before this one
    this.weights = decoded.weights;
    const size = decoded.thumbSize, per = size * size;
    // every hidden neuron's thumbnail (they follow the inputs' in the message) in one ImageData
    const count = this.columns.reduce((n, col) => n + (col.isOut ? 0 : col.nodes.length), 0);
    if (count) {
      if (this.atlas.width !== size || this.atlas.height !== size * count) {
        this.atlas.width = size; this.atlas.height = size * count; this.atlasImage = null;
      }
      const ctx = this.atlas.getContext("2d");
      this.atlasImage = this.atlasImage || ctx.createImageData(size, size * count);
      const start = this.inputs.length * per;
      paint(this.atlasImage, decoded.thumbs.subarray(start, start + count * per));
      ctx.putImageData(this.atlasImage, 0, 0);
      this.atlasSize = size;
    }
    const out = this.columns[this.columns.length - 1];
    if (this.net.problem !== "multiclass" && decoded.heat) {
      if (this.outCanvas.width !== 100) { this.outCanvas.width = 100; this.outCanvas.height = 100; this.outImage = null; }
      const ctx = this.outCanvas.getContext("2d");
      this.outImage = this.outImage || ctx.createImageData(100, 100);
      paint(this.outImage, decoded.heat);
      ctx.putImageData(this.outImage, 0, 0);
    }
    this.columns.forEach((col, c) => col.nodes.forEach((n, j) => {
      n.painted = col !== out || (this.net.problem !== "multiclass" && !!decoded.heat);
      const color = valueColor(this.weights[c].b[j]);
      if (n.biasColor !== color) { n.biasColor = color; n.bias.style.background = color; }
    }));
    this.lastUpdate = performance.now();
    if (msg.diagnostics || this.hadDiagnostics) this._diagnostics(msg.diagnostics);
    this.hadDiagnostics = !!msg.diagnostics;
    this._measureLook();
    this.lastDecoded = decoded;
    if (this.flow.wanted) this._flowSpeeds(decoded);
    this.draw();
  }

  /** Do these weights belong to the network drawn now (same columns, same shapes)? */
  fits(weights) {
    return weights.length === this.columns.length && this.columns.every((col, c) =>
      weights[c].shape[1] === col.nodes.length && weights[c].shape[0] === (c === 0 ? this.inputs.length : this.columns[c - 1].nodes.length));
  }

  /** Thumbnail bytes of hidden neuron (column, index) from the last update. */
  thumb(decoded, column, index) {
    const size = decoded.thumbSize;
    let k = this.inputs.length;
    for (let c = 0; c < column; c++) k += this.columns[c].nodes.length;
    k += index;
    return decoded.thumbs.subarray(k * size * size, (k + 1) * size * size);
  }

  /** Each link's look: |w| in [0, 5] gives TF Playground's 1-10 px (times the column pair's
   * scale), the colour is the weight's, quantized (1/4 px of width, 1/32 of the colour scale)
   * into batches of the same look, stroked as one path each (most of the cost of many links is
   * the number of strokes). `key` names the whole look: the cache is drawn again when it changes. */
  _measureLook() {
    const batches = new Map();
    const keys = [];
    for (const link of this.links || []) {
      const w = this.weights ? this.weights[link.c].W[link.i * this.weights[link.c].shape[1] + link.j] : 0;
      const a = Number.isFinite(w) ? Math.min(Math.abs(w), 5) : 5;
      const width = Math.max(0.6, (1 + 9 * a / 5) * link.scale);
      const q = Number.isFinite(w) ? Math.round(Math.max(-1, Math.min(1, w)) * 32) / 32 : NaN;
      const key = `${Math.round(width * 4)}|${q}|${link.alpha}`;
      let batch = batches.get(key);
      if (!batch) { batch = { width: Math.round(width * 4) / 4, color: valueColor(q), alpha: link.alpha, links: [] }; batches.set(key, batch); }
      batch.links.push(link);
      keys.push(key);
    }
    this.look = { batches: [...batches.values()], key: keys.join(" ") };
  }

  _drawLinks() {
    const ctx = this.linkCanvas.getContext("2d");
    const dpr = window.devicePixelRatio || 1;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, this.geom.width, this.geom.height);
    for (const b of this.look.batches) {
      ctx.lineWidth = b.width; ctx.strokeStyle = b.color; ctx.globalAlpha = b.alpha;
      ctx.beginPath();
      for (const link of b.links) {
        const p0 = link.pts[0], p1 = link.pts[link.pts.length - 1], mx = (p0[0] + p1[0]) / 2;
        ctx.moveTo(p0[0], p0[1]);
        ctx.bezierCurveTo(mx, p0[1], mx, p1[1], p1[0], p1[1]);
      }
      ctx.stroke();
    }
    ctx.globalAlpha = 1;
    this.cachedLook = this.look.key;
  }

  /** The diagram: the links (from their cache), the flow's dashes, the hovered link, and the
   * neurons' pictures over the ends of their links. */
  draw() {
    const ctx = this.canvas.getContext("2d");
    const dpr = window.devicePixelRatio || 1;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
    if (!this.links || !this.look) return;
    if (this.cachedLook !== this.look.key) this._drawLinks();
    ctx.drawImage(this.linkCanvas, 0, 0);
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    const now = performance.now();
    if (this.flow.status === "on") this._drawFlow(ctx);
    this.flow.lastDraw = now;
    if (this.hoverLink) {
      const link = this.hoverLink, p0 = link.pts[0], p1 = link.pts[link.pts.length - 1], mx = (p0[0] + p1[0]) / 2;
      ctx.strokeStyle = "#222"; ctx.lineWidth = 2.5;
      ctx.beginPath(); ctx.moveTo(p0[0], p0[1]); ctx.bezierCurveTo(mx, p0[1], mx, p1[1], p1[0], p1[1]); ctx.stroke();
    }
    // inside each box's 1-px border (the box, under the canvas, draws the border)
    const half = this.geom.node / 2 - 1, size = this.atlasSize;
    ctx.imageSmoothingEnabled = true;
    ctx.fillStyle = "#fff";
    const dead = [];
    for (const col of this.columns || []) {
      for (const n of col.nodes) {
        if (!n.drawn) continue;
        ctx.fillRect(n.x - half, n.y - half, 2 * half, 2 * half);
        if (n.dead) dead.push(n);
        if (!n.painted) continue;
        if (n.atlasRow < 0) ctx.drawImage(this.outCanvas, n.x - half, n.y - half, 2 * half, 2 * half);
        else if (size) ctx.drawImage(this.atlas, 0, n.atlasRow * size, size, size, n.x - half, n.y - half, 2 * half, 2 * half);
      }
    }
    if (dead.length) {  // the diagnostics' cross over a dead neuron's picture
      ctx.fillStyle = "#d33"; ctx.font = "700 18px system-ui"; ctx.textAlign = "center"; ctx.textBaseline = "middle";
      for (const n of dead) ctx.fillText("✕", n.x, n.y + 1);
    }
  }

  // -- link flow --------------------------------------------------------------------------------
  /** Turn the flow on or off (the `linkFlow` setting). */
  setFlow(on) {
    this.flow.wanted = on;
    this.flow.pausedUntil = 0;
    if (on && this.lastDecoded) this._flowSpeeds(this.lastDecoded);
    this._flowWake();
  }

  /** The backprop trace whose values the flow shows (null: the training signal), and its phase. */
  setFlowTrace(trace, phase) {
    this.flow.trace = trace;
    this.flow.phaseName = phase;
    this._flowSpeeds(this.lastDecoded);
    if (this.flow.status === "on") this.draw();
  }

  /** Per-link speed (px/s, negative: backwards): the signal through each link over the
   * strongest one, times FLOW.maxSpeed (see the module's comment for the signals). */
  _flowSpeeds(decoded) {
    if (decoded) this.lastDecoded = decoded;
    const f = this.flow;
    if (!this.links || !f.speed) return;
    const t = f.trace, mag = new Float32Array(this.links.length);
    let dir = 1;
    if (t && t.columns && t.columns.length === this.columns.length) {
      dir = f.phaseName === "forward" ? 1 : -1;
      this.links.forEach((l, k) => {
        const col = t.columns[l.c];
        const v = f.phaseName === "forward" ? col.input[l.i] * col.W[l.i][l.j]
          : f.phaseName === "backward" ? col.W[l.i][l.j] * col.dL_dz[l.j] : col.dW[l.i][l.j];
        mag[k] = Number.isFinite(v) ? Math.abs(v) : 0;
      });
    } else if (this.weights && this.lastDecoded && this.lastDecoded.weights === this.weights) {
      const d = this.lastDecoded, per = d.thumbSize * d.thumbSize;
      // mean |a| of every source: the active inputs, then the hidden neurons (the thumbnails' order)
      const n = this.inputs.length + this.columns.reduce((m, col) => m + (col.isOut ? 0 : col.nodes.length), 0);
      const mean = new Float32Array(n);
      for (let k = 0; k < n; k++) {
        let sum = 0;
        for (let p = k * per, e = p + per; p < e; p++) sum += ABS_BYTE[d.thumbs[p]];
        mean[k] = sum / per;
      }
      const first = [0];
      this.columns.forEach((col, c) => first.push(first[c] + (c === 0 ? this.inputs.length : this.columns[c - 1].nodes.length)));
      this.links.forEach((l, k) => {
        const w = this.weights[l.c].W[l.i * this.weights[l.c].shape[1] + l.j];
        const v = Math.abs(w) * mean[first[l.c] + l.i];
        mag[k] = Number.isFinite(v) ? v : 0;
      });
    }
    let top = 0;
    for (const m of mag) top = Math.max(top, m);
    for (let k = 0; k < mag.length; k++) f.speed[k] = top > 0 ? dir * FLOW.maxSpeed * mag[k] / top : 0;
  }

  /** Start or stop the animation loop as the setting, the page's visibility and its frame rate allow. */
  _flowWake() {
    const f = this.flow;
    this._setFlowStatus(this._flowStatusNow());
    if (f.wanted && !document.hidden && !f.raf) {
      f.last = 0; f.ticks = 0; f.windowStart = 0;
      f.raf = requestAnimationFrame(now => this._flowTick(now));
    }
  }

  _flowStatusNow() {
    const f = this.flow;
    return !f.wanted ? "off" : document.hidden ? "paused: the page is in the background"
      : performance.now() < f.pausedUntil ? `paused: the page drew ${Math.round(f.fps)} frames/s (under ${FLOW.minFps})` : "on";
  }

  _setFlowStatus(status) {
    const f = this.flow;
    if (f.status === status) return;
    const redraw = (f.status === "on") !== (status === "on");
    f.status = status;
    if (this.onFlowStatus) this.onFlowStatus(status);
    if (redraw && this.links) this.draw();
  }

  /** One animation frame: measure the frame rate, move the dashes, draw when due. */
  _flowTick(now) {
    const f = this.flow;
    f.raf = 0;
    if (!f.wanted || document.hidden) { this._setFlowStatus(this._flowStatusNow()); return; }
    // the page's frame rate, over windows of a second
    if (!f.windowStart) f.windowStart = now;
    f.ticks += 1;
    if (now - f.windowStart >= 1000) {
      f.fps = (f.ticks - 1) * 1000 / (now - f.windowStart);
      f.ticks = 1; f.windowStart = now;
      if (f.status === "on" && f.fps < FLOW.minFps) f.pausedUntil = now + FLOW.retryMs;
    }
    if (f.pausedUntil && now >= f.pausedUntil) f.pausedUntil = 0;
    this._setFlowStatus(this._flowStatusNow());
    if (f.status === "on" && f.phase && this.look) {
      const dt = f.last ? Math.min(now - f.last, 100) / 1000 : 0;
      f.last = now;
      for (let k = 0; k < f.phase.length; k++) {
        const p = f.phase[k] + f.speed[k] * dt;
        f.phase[k] = p - FLOW.period * Math.floor(p / FLOW.period);
      }
      const training = now - (this.lastUpdate || 0) < FLOW.updateGapMs;  // updates draw the dashes
      if (!training && now - f.lastDraw >= 1000 / FLOW.fps - 2) this.draw();
    } else {
      f.last = 0;
    }
    f.raf = requestAnimationFrame(t => this._flowTick(t));
  }

  /** The dashes: FLOW.dash px of light every FLOW.period px along each link, from its phase;
   * one path per batch of links of the same width. */
  _drawFlow(ctx) {
    const f = this.flow;
    ctx.strokeStyle = "#fff";
    ctx.globalAlpha = 0.9;
    ctx.lineCap = "butt";
    for (const b of this.look.batches) {
      ctx.lineWidth = Math.max(1, b.width * 0.6);
      ctx.beginPath();
      for (const link of b.links) this._dashes(ctx, link, f.phase[link.k]);
      ctx.stroke();
    }
    ctx.globalAlpha = 1;
  }

  _dashes(ctx, link, phase) {
    const { pts, cum } = link, L = cum[cum.length - 1], last = cum.length - 1;
    let seg = 0;
    const at = (k, s) => {
      const t = (s - cum[k]) / ((cum[k + 1] - cum[k]) || 1);
      return [pts[k][0] + (pts[k + 1][0] - pts[k][0]) * t, pts[k][1] + (pts[k + 1][1] - pts[k][1]) * t];
    };
    for (let s = phase - FLOW.period; s < L; s += FLOW.period) {
      const a = Math.max(0, s), b = Math.min(L, s + FLOW.dash);
      if (b <= a) continue;
      while (seg < last - 1 && cum[seg + 1] < a) seg++;
      const pa = at(seg, a);
      ctx.moveTo(pa[0], pa[1]);
      let k = seg;
      while (k < last - 1 && cum[k + 1] < b) { k++; ctx.lineTo(pts[k][0], pts[k][1]); }
      const pb = at(k, b);
      ctx.lineTo(pb[0], pb[1]);
    }
  }

  /** The drawn width of a link (for tests): what draw() strokes it with. */
  linkWidth(link) {
    const w = this.weights ? this.weights[link.c].W[link.i * this.weights[link.c].shape[1] + link.j] : 0;
    const a = Number.isFinite(w) ? Math.min(Math.abs(w), 5) : 5;
    return Math.round(Math.max(0.6, (1 + 9 * a / 5) * link.scale) * 4) / 4;
  }

  _diagnostics(d) {
    this.columns.forEach((col, c) => col.nodes.forEach((n, k) => {
      n.div.classList.remove("dead", "saturated", "dup");
      n.dead = false;
      n.div.querySelector(".badge").textContent = "";
      n.div.removeAttribute("data-diag");
      if (!d || col.isOut) return;
      if (d.dead[c].includes(k)) { n.dead = true; n.div.classList.add("dead"); n.div.dataset.diag = "dead: its output is constant on every training point, so it learns nothing"; }
      else if (d.saturated[c].includes(k)) { n.div.classList.add("saturated"); n.div.dataset.diag = "saturated: its output sits at the flat ends of the activation"; }
    }));
    if (!d) return;
    d.duplicates.forEach((groups, c) => groups.forEach((g, gi) => g.forEach(k => {
      const n = this.columns[c].nodes[k];
      n.div.classList.add("dup");
      n.div.querySelector(".badge").textContent = String.fromCharCode(65 + gi);
      n.div.dataset.diag = `duplicate: computes the same output as the other neurons marked ${String.fromCharCode(65 + gi)}`;
    })));
  }

  /** Write a number under each node (the backprop trace), or clear with null. */
  showValues(v) {
    if (!this.columns) return;
    const set = (div, x) => { div.querySelector(".val").textContent = x === null ? "" : fmt(x, 3); };
    this.inputs.forEach((n, i) => set(n.div, v ? v.inputs[i] : null));
    this.columns.forEach((col, c) => col.nodes.forEach((n, k) => set(n.div, v ? v.columns[c][k] : null)));
    this.layer.querySelectorAll(".feature.inactive .val").forEach(d => { d.textContent = ""; });
  }

  // -- hover card -------------------------------------------------------------------------------
  _hit(e) {
    const r = this.root.getBoundingClientRect();
    const p = [e.clientX - r.left, e.clientY - r.top];
    let best = null, bestD = 25;
    for (const link of this.links || []) {
      const pts = link.pts;
      if (p[0] < pts[0][0] - 2 || p[0] > pts[pts.length - 1][0] + 2) continue;
      for (let k = 0; k + 1 < pts.length; k++) {
        const d = segDist2(p, pts[k], pts[k + 1]);
        if (d < bestD) { bestD = d; best = link; }
      }
    }
    return { link: best, p };
  }

  _linkText(link) {
    const w = this.weights ? this.weights[link.c].W[link.i * this.weights[link.c].shape[1] + link.j] : NaN;
    const src = link.c === 0 ? FEATURE_LABELS[Object.keys(FEATURE_LABELS).filter(k => this.state.get(k))[link.i]]
                             : `neuron ${link.i + 1} of layer ${link.c}`;
    const dst = this.columns[link.c].isOut ? (this.net.problem === "multiclass" ? `class ${link.j}` : "the output")
                                           : `neuron ${link.j + 1} of layer ${link.c + 1}`;
    return { w, where: `${src} → ${dst}` };
  }

  _move(e) {
    if (this.card.editing) return;
    if (e.target !== this.root) { if (this.hoverLink) { this.hoverLink = null; this.draw(); } return; }
    const { link, p } = this._hit(e);
    if (link !== this.hoverLink) { this.hoverLink = link; this.draw(); }
    if (!link) { this.card.hide(); return; }
    const { w, where } = this._linkText(link);
    this.card.show(p[0] + 12, p[1] + 12, `Weight ${fmt(w)}`, `${where} · click to edit`);
  }

  _clickLink(e) {
    const { link, p } = this._hit(e);
    if (!link) return;
    const { w, where } = this._linkText(link);
    this.card.edit(p[0] + 12, p[1] + 12, "Weight", where, w,
                   value => this.onEdit({ layer: link.c, param: "W", i: link.i, j: link.j, value }));
  }

  _showBias(c, k, bias) {
    if (this.card.editing || !this.weights) return;
    const r = bias.getBoundingClientRect(), root = this.root.getBoundingClientRect();
    this.card.show(r.left - root.left + 14, r.top - root.top + 10, `Bias ${fmt(this.weights[c].b[k])}`, "click to edit");
  }

  _editBias(c, k, bias) {
    if (!this.weights) return;
    const r = bias.getBoundingClientRect(), root = this.root.getBoundingClientRect();
    this.card.edit(r.left - root.left + 14, r.top - root.top + 10, "Bias", `neuron ${k + 1} of layer ${c + 1}`,
                   this.weights[c].b[k], value => this.onEdit({ layer: c, param: "b", i: k, value }));
  }

  // -- static feature thumbnails ------------------------------------------------------------------
  _featureThumbs(n) {
    const out = {};
    this.featureBytes = {};
    for (const [key, fn] of Object.entries(FEATURE_FN)) {
      const vals = new Float64Array(n * n);
      let max = 1e-12;
      for (let r = 0; r < n; r++) for (let c = 0; c < n; c++) {
        const x1 = -6 + 12 * (c + 0.5) / n, x2 = 6 - 12 * (r + 0.5) / n;
        const v = fn(x1, x2);
        vals[r * n + c] = v; max = Math.max(max, Math.abs(v));
      }
      const bytes = new Uint8Array(n * n);
      vals.forEach((v, i) => { bytes[i] = Math.round((v / max + 1) * 127.5); });
      this.featureBytes[key] = bytes;
      const c = el("canvas", { width: n, height: n });
      c.getContext("2d").putImageData(paint(new ImageData(n, n), bytes), 0, 0);
      out[key] = c.toDataURL();
    }
    return out;
  }
}
