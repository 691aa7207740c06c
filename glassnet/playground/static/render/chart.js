// The live loss chart (uPlot, vendored): training loss in grey, test loss in black, per epoch.
// Points arrive with every update; a curve keeps at most MAX_POINTS by dropping every other
// point when full, so a long run stays cheap to draw.

import uPlot from "../vendor/uPlot.esm.js";

const MAX_POINTS = 4000;

export class LossChart {
  constructor(container, { width = 300, height = 110 } = {}) {
    this.data = [[], [], []];
    this.dirty = false;
    this.plot = new uPlot({
      width, height,
      legend: { show: false },
      cursor: { show: true, points: { show: false }, drag: { x: false, y: false } },
      scales: { x: { time: false }, y: { range: (u, min, max) => [0, Math.max(max || 0, 1e-3) * 1.05] } },
      axes: [
        { size: 24, font: "10px system-ui", stroke: "#777", grid: { stroke: "#eee" }, ticks: { size: 3 } },
        { size: 38, font: "10px system-ui", stroke: "#777", grid: { stroke: "#eee" }, ticks: { size: 3 } },
      ],
      series: [
        { label: "epoch" },
        { label: "training loss", stroke: "#999", width: 1.5, points: { show: false } },
        { label: "test loss", stroke: "#222", width: 1.5, points: { show: false } },
      ],
    }, this.data, container);
  }

  reset() {
    this.data = [[], [], []];
    this.dirty = true;
  }

  /** curve: {epoch: [...], train: [...], test: [...]}; a point at an epoch already drawn
   *  (weights edited, NaN guard rollback) replaces the points from that epoch on. */
  append(curve) {
    const [xs, tr, te] = this.data;
    curve.epoch.forEach((e, i) => {
      while (xs.length && xs[xs.length - 1] >= e) { xs.pop(); tr.pop(); te.pop(); }
      xs.push(e); tr.push(curve.train[i]); te.push(curve.test[i]);
    });
    if (xs.length > MAX_POINTS) this.data = this.data.map(a => a.filter((_, i) => i % 2 === 0 || i === a.length - 1));
    this.dirty = true;
  }

  draw() {
    if (!this.dirty) return;
    this.dirty = false;
    this.plot.setData(this.data);
  }
}
