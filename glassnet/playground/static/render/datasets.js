// The data-set chooser: one small scatter per data set (from the server's previews), the
// choices that fit the problem type (the data set registry's, from the settings table), the
// selected one outlined.

import { classColor, valueColor } from "./colors.js";
import { el } from "../util.js";
import { LIMITS, TABLE } from "../state.js";

export class DatasetPicker {
  constructor(container, { state }) {
    this.root = container;
    this.state = state;
    this.previews = {};
  }

  setPreviews(previews) { this.previews = previews; this.render(); }

  render() {
    const problem = this.state.get("problem");
    const key = problem === "regression" ? "regDataset" : "dataset";
    const row = TABLE[key];
    const names = problem === "multiclass" ? LIMITS.multiclassDatasets : row.choices;
    const current = this.state.get(key);
    // classroom mode: the picker belongs to the setting it sets now (dataset or regDataset)
    const box = this.root.closest("[data-hide]");
    if (box) box.dataset.hide = key;
    this.root.replaceChildren(...names.map(name => {
      // drawn once on a canvas, shown as a picture: a canvas is a compositing layer of its own,
      // which would make the page composite the boxes drawn after it every frame too
      const c = el("img", { width: 56, height: 56, alt: "", draggable: "false", src: this._picture(this.previews[`${problem}:${name}`], problem) });
      const label = row.labels[name] ?? name, help = row.helps[name] ?? label;
      const b = el("button", { class: `ds ${name === current ? "selected" : ""}`, title: help,
                               "data-dataset": name, "aria-label": label }, c);
      if (name === "custom") b.append(el("span", { class: "ds-custom", text: "✎" }));
      b.addEventListener("click", () => this.state.set({ [key]: name }));
      return b;
    }));
  }

  _picture(pts, problem) {
    const canvas = el("canvas", { width: 56, height: 56 });
    this._draw(canvas, pts, problem);
    return canvas.toDataURL();
  }

  _draw(canvas, pts, problem) {
    const ctx = canvas.getContext("2d");
    ctx.fillStyle = "#f4f5f6";
    ctx.fillRect(0, 0, 56, 56);
    if (!pts) return;
    for (let i = 0; i < pts.length; i += 3) {
      const x = (pts[i] + 6) / 12 * 56, y = (6 - pts[i + 1]) / 12 * 56;
      ctx.fillStyle = problem === "regression" ? valueColor(pts[i + 2]) : classColor(pts[i + 2]);
      ctx.fillRect(x - 1.2, y - 1.2, 2.4, 2.4);
    }
  }
}
