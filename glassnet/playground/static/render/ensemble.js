// The ensemble view: N copies of the network trained at once on the server (one model-axis
// program, glassnet/playground/ensemble.py). A grid of small decision maps (one per copy: click
// one to make it the main view), the disagreement map (where the copies predict differently:
// the uncertainty a single run hides), every copy's loss curve with their mean and spread, and
// how many copies have converged, diverged or have dead neurons.
//
// Drawing cost (N = 16 at 15+ updates a second): every copy's map is painted into ONE ImageData
// (an atlas, one putImageData per update) and only the maps whose bytes changed are copied onto
// the maps canvas; the disagreement map is drawn only when it changed; the slots are measured
// only when the grid is resized (no layout read per frame); the curves are drawn at most
// CHART_FPS times a second (the last update is always drawn).

import { paint } from "./colors.js";
import { el, fmt } from "../util.js";

const MAX_POINTS = 600;     // per curve kept for drawing (halved when full, as the loss chart does)
const MAP_PX = 64;          // CSS size of a copy's map
const DIS_PX = 220;         // CSS size of the disagreement map
const CHART_W = 380, CHART_H = 150;
const CHART_FPS = 10;       // the curves' redraws per second at most

/** Disagreement colours by byte: white (all agree) to deep purple (an even split). */
const DIS_LUT = (() => {
  const lut = new Uint8Array(256 * 3), a = [255, 255, 255], b = [84, 39, 143];
  for (let k = 0; k < 256; k++) {
    const t = Math.pow(k / 255, 0.7);
    for (let i = 0; i < 3; i++) lut[k * 3 + i] = Math.round(a[i] + (b[i] - a[i]) * t);
  }
  return lut;
})();

export class EnsembleView {
  constructor(root, { state, onFocus }) {
    this.root = root;
    this.state = state;
    this.onFocus = onFocus;
    this.grid = root.querySelector("#ens-grid");
    this.counts = root.querySelector("#ens-counts");
    this.dis = root.querySelector("#ens-dis");
    this.share = root.querySelector("#ens-share");
    this.chart = root.querySelector("#ens-chart");
    const dpr = window.devicePixelRatio || 1;
    this.chart.width = CHART_W * dpr; this.chart.height = CHART_H * dpr;
    this.chart.style.width = `${CHART_W}px`; this.chart.style.height = `${CHART_H}px`;
    this.dis.style.width = `${DIS_PX}px`; this.dis.style.height = `${DIS_PX}px`;
    this.n = 0;
    this.members = null;
    this.problem = "classification";
    this.classes = 2;
    this.last = null;
    this.points = [];
    this.atlas = document.createElement("canvas");  // every copy's map, one under the other
    this.atlasImage = null;
    this.shown = null;   // the map bytes on the maps canvas now (null: draw all)
    this.disShown = null;
    this.chartDrawn = 0; this.chartTimer = 0;
    this.reset();
    // the maps canvas follows the grid: drawn again (from each copy's last map) when it reflows
    new ResizeObserver(() => { this.slotsKey = null; if (this.active && this.cells) this._drawMaps(); }).observe(this.grid);
  }

  get active() { return this.n > 1; }

  /** A new network (or none): forget the curves; `net` is the server's network message. */
  setNetwork(net) {
    this.members = net.members;
    this.problem = net.problem;
    this.classes = net.classes;
    this.n = net.members ? net.members.labels.length : 1;
    this.root.classList.toggle("off", !this.active);
    this.reset();
    this._buildGrid();
  }

  /** The training points, drawn faintly over the disagreement map. */
  setPoints(train) {
    this.points = train;
    this.disShown = null;
    if (this.last && this.active) this._drawDisagreement(this.last);
  }

  reset() {
    this.store = { epoch: [], train: [], test: [], lo: [], hi: [], mean: [] };
    this.status = [];
    this.dirty = true;
  }

  /** Merge the update's new curve points of every copy (a point at an epoch already kept
   * replaces the points from there on, as after the NaN guard's rollback), with the lowest,
   * highest and mean training loss of the copies still training (`status`). */
  append(curves, status = this.status) {
    const s = this.store;
    this.status = status;
    curves.epoch.forEach((e, i) => {
      while (s.epoch.length && s.epoch[s.epoch.length - 1] >= e) {
        for (const k of Object.keys(s)) s[k].pop();
      }
      const r = curves.train[i] || [];
      let lo = Infinity, hi = -Infinity, sum = 0, count = 0;
      r.forEach((v, m) => {
        if (v === null || status[m] === "diverged") return;
        lo = Math.min(lo, v); hi = Math.max(hi, v); sum += v; count += 1;
      });
      s.epoch.push(e); s.train.push(curves.train[i]); s.test.push(curves.test[i]);
      s.lo.push(count ? lo : null); s.hi.push(count ? hi : null); s.mean.push(count ? sum / count : null);
    });
    if (s.epoch.length > MAX_POINTS) {
      const keep = (_, i, a) => i % 2 === 0 || i === a.length - 1;
      this.store = Object.fromEntries(Object.entries(s).map(([k, a]) => [k, a.filter(keep)]));
    }
    this.dirty = true;
  }

  /** One copy's curve as the main loss chart takes it. */
  seriesOf(m) {
    const s = this.store;
    return { epoch: [...s.epoch], train: s.train.map(r => (r ? r[m] : null)), test: s.test.map(r => (r ? r[m] : null)) };
  }

  /** The cells: buttons with a label and a badge over an empty slot; every copy's map is drawn
   * into one canvas behind them (one canvas to show per frame, not one per copy). */
  _buildGrid() {
    this.cells = [];
    this.countSpans = null;
    this.slots = null;
    this.shown = null;
    this.disShown = null;
    if (!this.active) { this.grid.replaceChildren(); return; }
    const labels = this.members.labels;
    this.mapsCanvas = el("canvas", { class: "ens-maps-canvas" });
    this.grid.replaceChildren(this.mapsCanvas, ...labels.map((label, m) => {
      const slot = el("span", { class: "ens-slot" });
      const badge = el("span", { class: "ens-badge" });
      const cell = el("button", { class: "ens-cell", "data-model": m, title: `copy ${m + 1}: ${label} (click: main view)` },
        slot, badge, el("span", { class: "ens-label", text: label }));
      cell.addEventListener("click", () => this.onFocus(m));
      this.cells.push({ cell, slot, badge });
      return cell;
    }));
  }

  /** Copy the maps of `which` copies (all: null) from the atlas onto the maps canvas. */
  _drawMaps(which = null) {
    if (!this.atlasImage) return;
    const slots = this._slots();
    const big = this.mapsCanvas.getContext("2d");
    const dpr = window.devicePixelRatio || 1, size = this.atlas.width;
    big.setTransform(dpr, 0, 0, dpr, 0, 0);
    if (which === null) big.clearRect(0, 0, this.mapsCanvas.width, this.mapsCanvas.height);
    for (const m of which || this.cells.keys()) {
      const [x, y, w, h] = slots[m];
      big.drawImage(this.atlas, 0, m * size, size, size, x, y, w, h);
    }
  }

  /** Where each copy's slot is on the maps canvas: measured once, and again only after the
   * grid is resized (the ResizeObserver forgets them), never as a layout read per frame. */
  _slots() {
    if (this.slots && this.slotsKey) return this.slots;
    const g = this.grid.getBoundingClientRect();
    this.slotsKey = `${Math.round(g.width)}x${Math.round(g.height)}`;
    const dpr = window.devicePixelRatio || 1;
    this.mapsCanvas.width = Math.round(g.width * dpr); this.mapsCanvas.height = Math.round(g.height * dpr);
    this.mapsCanvas.style.width = `${g.width}px`; this.mapsCanvas.style.height = `${g.height}px`;
    this.slots = this.cells.map(c => {
      const r = c.slot.getBoundingClientRect();
      return [r.left - g.left, r.top - g.top, r.width, r.height];
    });
    return this.slots;
  }

  /** The update's ensemble part (see glassnet.playground.ensemble.frame), decoded by main.js:
   * {maps: Uint8Array, disagreement: Uint8Array, ...}. */
  update(e) {
    if (!this.active || !this.cells || this.cells.length !== e.n) return;
    this.last = e;
    const size = e.size, per = size * size;
    const multi = this.problem === "multiclass";
    // the copies whose map changed since the maps canvas was drawn (all after a new grid or size)
    if (this.atlas.width !== size || this.atlas.height !== size * e.n) {
      this.atlas.width = size; this.atlas.height = size * e.n; this.atlasImage = null; this.shown = null;
    }
    const slotsBefore = this.slots && this.slotsKey;
    const changed = [];
    for (let m = 0; m < e.n; m++) {
      if (!this.shown || !slotsBefore) { changed.push(m); continue; }
      const a = this.shown.subarray(m * per, (m + 1) * per), b = e.mapBytes.subarray(m * per, (m + 1) * per);
      for (let i = 0; i < per; i++) if (a[i] !== b[i]) { changed.push(m); break; }
    }
    if (changed.length) {
      const ctx = this.atlas.getContext("2d");
      this.atlasImage = this.atlasImage || ctx.createImageData(size, size * e.n);
      paint(this.atlasImage, e.mapBytes, multi ? { classes: this.classes, discretize: true } : {});
      ctx.putImageData(this.atlasImage, 0, 0);
      this._drawMaps(changed.length === e.n ? null : changed);
      this.shown = e.mapBytes;
    }
    this.cells.forEach((c, m) => {
      // the DOM is touched only where something changed (every write costs a style pass)
      const diverged = e.status[m] === "diverged";
      const look = `ens-cell${m === e.focus ? " focus" : ""}${diverged ? " diverged" : ""}${e.converged[m] ? " converged" : ""}`;
      if (c.cell.className !== look) c.cell.className = look;
      const text = diverged ? "diverged" : e.dead[m] ? `${e.dead[m]} dead` : e.converged[m] ? "✓" : "";
      if (c.badge.textContent !== text) {
        c.badge.textContent = text;
        c.badge.className = `ens-badge ${diverged ? "bad" : e.dead[m] ? "dead" : e.converged[m] ? "ok" : ""}`;
      }
    });
    this._drawDisagreement(e);
    const k = e.counts;
    if (!this.countSpans) {
      const rule = this.problem === "regression" ? "training loss < 0.01" : "≥ 95% training accuracy";
      this.countSpans = [el("b"), el("span", { class: "c-ok", title: `converged: ${rule}` }),
        el("span", { class: "c-bad", title: "stopped by the NaN guard (their curves end there)" }),
        el("span", { class: "c-dead", title: "copies with a hidden neuron whose output is constant on every training point" })];
      const [a, b, c, d] = this.countSpans;
      this.counts.replaceChildren(a, " · ", b, " · ", c, " · ", d);
    }
    const texts = [`${e.n} copies`, `${k.converged} converged`, `${k.diverged} diverged`, `${k.dead} with dead neurons`];
    this.countSpans.forEach((span, i) => { if (span.textContent !== texts[i]) span.textContent = texts[i]; });
    const share = `The copies disagree on ${(100 * e.share).toFixed(1)}% of the square `
      + `(mean disagreement ${fmt(e.mean, 3)}; 1 is an even split).`;
    if (this.share.textContent !== share) this.share.textContent = share;
    this.draw();
  }

  /** The disagreement map with the training points over it; nothing when the map did not change. */
  _drawDisagreement(e) {
    const size = e.size;
    const same = this.disShown && this.disShown.length === e.disBytes.length && this.dis.width === size
      && e.disBytes.every((v, i) => v === this.disShown[i]);
    if (same) return;
    this.disShown = e.disBytes;
    if (this.dis.width !== size) { this.dis.width = size; this.dis.height = size; this.disImage = null; }
    const ctx = this.dis.getContext("2d");
    this.disImage = this.disImage || ctx.createImageData(size, size);
    const d = this.disImage.data;
    for (let i = 0; i < e.disBytes.length; i++) {
      const k = e.disBytes[i] * 3;
      d[i * 4] = DIS_LUT[k]; d[i * 4 + 1] = DIS_LUT[k + 1]; d[i * 4 + 2] = DIS_LUT[k + 2]; d[i * 4 + 3] = 255;
    }
    ctx.putImageData(this.disImage, 0, 0);
    ctx.fillStyle = "rgba(0,0,0,0.35)";
    const pts = this.points;
    for (let i = 0; i < pts.length; i += 3) {
      ctx.fillRect((pts[i] + 6) / 12 * size - 0.25, (6 - pts[i + 1]) / 12 * size - 0.25, 0.5, 0.5);
    }
  }

  /** All copies' training-loss curves (thin), the focus copy (blue), diverged ones (red), their
   * mean (black) and spread (the band from the lowest to the highest active copy). */
  draw() {
    if (!this.dirty || !this.active) return;
    const wait = 1000 / CHART_FPS - (performance.now() - this.chartDrawn);
    if (wait > 0) {  // drawn a moment ago: once more when the time has come (the last update shows)
      if (!this.chartTimer) this.chartTimer = setTimeout(() => { this.chartTimer = 0; this.draw(); }, wait);
      return;
    }
    this.chartDrawn = performance.now();
    this.dirty = false;
    const ctx = this.chart.getContext("2d");
    const dpr = window.devicePixelRatio || 1;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, CHART_W, CHART_H);
    const s = this.store, n = s.epoch.length;
    if (n < 1) return;
    const status = this.last ? this.last.status : [];
    // the scale: the highest loss of the copies still training (a diverged copy's is off the chart)
    const highs = s.hi.filter(v => v !== null);
    if (!highs.length) return;
    const top = Math.max(1e-3, Math.max(...highs) * 1.05);
    const left = 34, right = CHART_W - 6, topY = 6, bottom = CHART_H - 18;
    const e0 = s.epoch[0], e1 = Math.max(s.epoch[n - 1], e0 + 1);
    const X = e => left + (right - left) * (e - e0) / (e1 - e0);
    const Y = v => bottom - (bottom - topY) * Math.min(v, top) / top;
    ctx.strokeStyle = "#ddd"; ctx.lineWidth = 1; ctx.fillStyle = "#777"; ctx.font = "10px system-ui";
    for (const f of [0, 0.5, 1]) {
      ctx.beginPath(); ctx.moveTo(left, Y(top * f)); ctx.lineTo(right, Y(top * f)); ctx.stroke();
      ctx.fillText(fmt(top * f, 2), 2, Y(top * f) + 3);
    }
    ctx.fillText(`epoch ${e0}`, left, CHART_H - 4);
    ctx.fillText(String(s.epoch[n - 1]), right - 28, CHART_H - 4);
    // spread: lowest..highest of the copies still training, and their mean
    const { lo, hi, mean } = s;
    ctx.fillStyle = "rgba(24, 61, 78, 0.13)";
    ctx.beginPath();
    let started = false;
    for (let i = 0; i < n; i++) if (hi[i] !== null) { ctx[started ? "lineTo" : "moveTo"](X(s.epoch[i]), Y(hi[i])); started = true; }
    for (let i = n - 1; i >= 0; i--) if (lo[i] !== null) ctx.lineTo(X(s.epoch[i]), Y(lo[i]));
    ctx.closePath(); ctx.fill();
    const focus = this.last ? this.last.focus : 0;
    const step = Math.max(1, Math.ceil(n / 200));  // at most ~200 points a line: a pixel each
    const line = (m, style, width) => {
      ctx.strokeStyle = style; ctx.lineWidth = width; ctx.beginPath();
      let on = false;
      for (let i = 0; i < n; i += (i + step < n || i === n - 1 ? step : n - 1 - i)) {
        const v = m === "mean" ? mean[i] : (s.train[i] ? s.train[i][m] : null);
        if (v === null) { on = false; continue; }
        ctx[on ? "lineTo" : "moveTo"](X(s.epoch[i]), Y(v)); on = true;
      }
      ctx.stroke();
    };
    for (let m = 0; m < this.n; m++) {
      if (m !== focus) line(m, status[m] === "diverged" ? "rgba(214,39,40,0.6)" : "rgba(0,0,0,0.18)", 1);
    }
    line("mean", "#111", 2);
    line(focus, "#0877bd", 1.5);
  }
}
