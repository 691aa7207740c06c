// The confusion matrix on the test points: rows the true class, columns the predicted class.

import { classColor } from "./colors.js";
import { el } from "../util.js";

export function renderConfusion(container, matrix) {
  if (!matrix) { container.replaceChildren(); return; }
  const k = matrix.length;
  const total = matrix.flat().reduce((a, b) => a + b, 0) || 1;
  const max = Math.max(1, ...matrix.flat());
  const swatch = c => el("span", { class: "swatch", style: `background:${classColor(c)}` });
  const head = el("tr", {}, el("th", { class: "corner", text: "true ╲ predicted" }),
                  ...matrix.map((_, c) => el("th", {}, swatch(c), String(c))));
  const rows = matrix.map((row, r) => el("tr", {}, el("th", {}, swatch(r), String(r)),
    ...row.map((n, c) => el("td", {
      class: r === c ? "diag" : "off",
      style: `--shade:${(n / max).toFixed(3)}`,
      title: `${n} test points of class ${r} predicted as ${c} (${(100 * n / total).toFixed(1)}%)`,
      text: String(n),
    }))));
  container.replaceChildren(el("table", { class: "confusion" }, el("thead", {}, head), el("tbody", {}, ...rows)));
  container.dataset.classes = String(k);
}
