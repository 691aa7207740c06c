// The output panel: the network's output over the 100x100 grid on [-6, 6]^2, with the training
// points (white outline) and, optionally, the test points (black outline). Hovering a neuron
// shows that neuron's output here instead. Clicks are reported in data coordinates.

import { paint, classColor, valueColor, BACKGROUND_ALPHA } from "./colors.js";
import { el } from "../util.js";

const DOMAIN = 6;

export class Heatmap {
  constructor(container, { size = 300, onClick = null } = {}) {
    this.size = size;
    this.onClick = onClick;
    this.grid = 100;
    this.bg = el("canvas", { width: 100, height: 100, class: "hm-bg" });
    this.fg = el("canvas", { class: "hm-fg" });
    const dpr = window.devicePixelRatio || 1;
    this.fg.width = size * dpr; this.fg.height = size * dpr;
    this.dpr = dpr;
    this.label = el("div", { class: "hm-label" });
    const box = el("div", { class: "hm-box", style: `width:${size}px;height:${size}px` }, this.bg, this.fg, this.label);
    const ticks = [-6, -4, -2, 0, 2, 4, 6];
    const xAxis = el("div", { class: "hm-xaxis", style: `width:${size}px` }, ...ticks.map(t => el("span", { text: t })));
    const yAxis = el("div", { class: "hm-yaxis", style: `height:${size}px` }, ...ticks.reverse().map(t => el("span", { text: t })));
    container.append(el("div", { class: "hm-wrap" }, box, yAxis), xAxis);
    this.fg.addEventListener("click", e => this._click(e));
    this.train = []; this.test = [];
    this.problem = "classification"; this.classes = 2;
    this.showTest = false; this.discretize = false;
    this.output = null; this.previewing = null; this.marker = null;
  }

  setData(msg, problem, classes) {
    this.train = msg.train; this.test = msg.test;
    this.problem = problem; this.classes = classes;
    this.drawPoints();
  }

  /** the latest output: {grid, heatmap: Uint8Array, conf?: Uint8Array} */
  setOutput(out) { this.output = out; if (!this.previewing) this.drawBackground(); }

  /** Show one neuron's thumbnail (bytes, size) instead of the output; null to go back. */
  preview(p) {
    this.previewing = p;
    this.label.textContent = p ? p.label : "";
    this.label.style.display = p ? "block" : "none";
    this.drawBackground();
  }

  drawBackground() {
    const src = this.previewing || this.output;
    if (!src) return;
    const n = src.size || this.grid;
    if (this.bg.width !== n) { this.bg.width = n; this.bg.height = n; }
    const ctx = this.bg.getContext("2d");
    if (!this.image || this.image.width !== n) this.image = ctx.createImageData(n, n);  // reused
    const img = this.image;
    const multi = !this.previewing && this.problem === "multiclass";
    const alpha = BACKGROUND_ALPHA;
    paint(img, src.values, multi ? { classes: this.classes, conf: src.conf, discretize: this.discretize, alpha }
                                 : { discretize: this.discretize && !this.previewing && this.problem !== "regression", alpha });
    ctx.putImageData(img, 0, 0);
  }

  toPixel(x1, x2) {
    return [(x1 + DOMAIN) / (2 * DOMAIN) * this.size, (DOMAIN - x2) / (2 * DOMAIN) * this.size];
  }

  pointColor(label) {
    if (this.problem === "regression") return valueColor(label);
    return classColor(label);
  }

  drawPoints() {
    const ctx = this.fg.getContext("2d");
    ctx.setTransform(this.dpr, 0, 0, this.dpr, 0, 0);
    ctx.clearRect(0, 0, this.size, this.size);
    const draw = (pts, stroke) => {
      ctx.strokeStyle = stroke; ctx.lineWidth = 1;
      for (let i = 0; i < pts.length; i += 3) {
        const [px, py] = this.toPixel(pts[i], pts[i + 1]);
        ctx.beginPath();
        ctx.arc(px, py, 3.2, 0, 2 * Math.PI);
        ctx.fillStyle = this.pointColor(pts[i + 2]);
        ctx.fill(); ctx.stroke();
      }
    };
    draw(this.train, "#fff");
    if (this.showTest) draw(this.test, "#000");
    if (this.marker) {
      const [px, py] = this.toPixel(this.marker[0], this.marker[1]);
      ctx.strokeStyle = "#111"; ctx.lineWidth = 2;
      ctx.beginPath(); ctx.arc(px, py, 8, 0, 2 * Math.PI); ctx.stroke();
      ctx.beginPath(); ctx.moveTo(px - 12, py); ctx.lineTo(px - 5, py); ctx.moveTo(px + 5, py); ctx.lineTo(px + 12, py);
      ctx.moveTo(px, py - 12); ctx.lineTo(px, py - 5); ctx.moveTo(px, py + 5); ctx.lineTo(px, py + 12); ctx.stroke();
    }
  }

  setMarker(point) { this.marker = point; this.drawPoints(); }

  /** The data point (train, then test if shown) nearest to (x1, x2): [x1, x2, label] */
  nearest(x1, x2) {
    let best = null, bestD = Infinity;
    const scan = pts => {
      for (let i = 0; i < pts.length; i += 3) {
        const d = (pts[i] - x1) ** 2 + (pts[i + 1] - x2) ** 2;
        if (d < bestD) { bestD = d; best = [pts[i], pts[i + 1], pts[i + 2]]; }
      }
    };
    scan(this.train);
    if (this.showTest) scan(this.test);
    return best;
  }

  _click(e) {
    if (!this.onClick) return;
    const r = this.fg.getBoundingClientRect();
    const x1 = ((e.clientX - r.left) / r.width) * 2 * DOMAIN - DOMAIN;
    const x2 = DOMAIN - ((e.clientY - r.top) / r.height) * 2 * DOMAIN;
    this.onClick(Math.max(-DOMAIN, Math.min(DOMAIN, x1)), Math.max(-DOMAIN, Math.min(DOMAIN, x2)));
  }
}
