// Step-by-step backprop for one point (seed 001's calculation, live): the forward values of every
// neuron, the gradients flowing back, and the update each weight and bias receives. The numbers
// come from the server (glassnet/playground/backprop.py); this module lays them out.

import { el, fmt } from "../util.js";

const FEATURE_BY_NAME = { x1: "X₁", x2: "X₂", "x1^2": "X₁²", "x2^2": "X₂²", x1x2: "X₁X₂", "sin(x1)": "sin(X₁)", "sin(x2)": "sin(X₂)" };
const MAX_WEIGHT_ROWS = 48;

const PHASES = {
  forward: "z_j = Σ_i a_i·w_ij + b_j, then a_j = f(z_j); the first a is the input features.",
  backward: "dL/dz_j = dL/da_j · f′(z_j), and dL/da_i = Σ_j w_ij · dL/dz_j flows to the layer before.",
  update: "dL/dw_ij = a_i · dL/dz_j and dL/db_j = dL/dz_j; one SGD step: w ← w − lr · dL/dw (plus the penalty gradient).",
};

export class BackpropView {
  constructor(container, { onPhase }) {
    this.root = container;
    this.onPhase = onPhase;
    this.phase = "forward";
    this.trace = null;
    this.body = container.querySelector("#bp-body");
    container.querySelectorAll("[data-phase]").forEach(b => b.addEventListener("click", () => this.setPhase(b.dataset.phase)));
  }

  setPhase(phase) {
    this.phase = phase;
    this.root.querySelectorAll("[data-phase]").forEach(b => b.classList.toggle("on", b.dataset.phase === phase));
    this.render();
  }

  show(trace) {
    this.trace = trace;
    this.render();
  }

  clear() {
    this.trace = null;
    this.render();
  }

  /** Per-node numbers for the diagram in the current phase (null when there is no trace). */
  nodeValues() {
    const t = this.trace;
    if (!t) return null;
    const pick = { forward: c => c.a, backward: c => c.dL_dz, update: c => c.db.map(g => -t.learningRate * g) }[this.phase];
    return { inputs: t.x, columns: t.columns.map(pick) };
  }

  render() {
    this.onPhase(this.nodeValues());
    const t = this.trace;
    if (!t) {
      this.body.replaceChildren(el("p", { class: "hint", text: "Click a point on the output (or “Random training point”) to follow it through the network." }));
      return;
    }
    const yhat = t.prediction.length === 1 ? fmt(t.prediction[0]) : `[${t.prediction.map(v => fmt(v, 3)).join(", ")}]`;
    const lossText = t.lossName === "half_sse" ? "L = ½ (ŷ − y)²" : "L = −log softmax(ŷ)_y";
    const summary = el("div", { class: "bp-summary" },
      el("span", {}, "Point ", el("b", { text: `(${fmt(t.point[0], 3)}, ${fmt(t.point[1], 3)})` })),
      el("span", {}, "inputs ", el("b", { text: t.features.map((f, i) => `${FEATURE_BY_NAME[f] || f} = ${fmt(t.x[i], 3)}`).join(", ") })),
      el("span", {}, "target y = ", el("b", { text: String(t.target) })),
      el("span", {}, "prediction ŷ = ", el("b", { text: yhat })),
      el("span", {}, `${lossText} = `, el("b", { class: "bp-loss", text: fmt(t.loss) })),
      el("span", {}, "learning rate ", el("b", { text: String(t.learningRate) })));
    const formula = el("p", { class: "bp-formula", text: PHASES[this.phase] });
    const cards = t.columns.map((c, l) => this._column(t, c, l));
    this.body.replaceChildren(summary, formula, el("div", { class: "bp-columns" }, ...cards));
  }

  _column(t, c, l) {
    const last = l === t.columns.length - 1;
    const name = last ? "Output" : `Layer ${l + 1}`;
    const srcName = i => (l === 0 ? (FEATURE_BY_NAME[t.features[i]] || t.features[i]) : `n${i + 1}`);
    const units = c.z.length;
    let head, rows;
    if (this.phase === "forward") {
      head = ["neuron", "z", "a = f(z)"];
      rows = [...Array(units).keys()].map(j => [`n${j + 1}`, c.z[j], c.a[j]]);
    } else if (this.phase === "backward") {
      head = ["neuron", "dL/da", "f′(z)", "dL/dz"];
      rows = [...Array(units).keys()].map(j => [`n${j + 1}`, c.dL_da[j], c.fprime[j], c.dL_dz[j]]);
    } else {
      head = ["neuron", "b", "dL/db", "new b"];
      rows = [...Array(units).keys()].map(j => [`n${j + 1}`, c.b[j], c.db[j], c.newB[j]]);
    }
    const table = (h, rs) => el("table", { class: "bp-table" },
      el("thead", {}, el("tr", {}, ...h.map(x => el("th", { text: x })))),
      el("tbody", {}, ...rs.map(r => el("tr", {}, ...r.map((v, i) => el(i === 0 ? "th" : "td", { text: typeof v === "string" ? v : fmt(v) }))))));
    const parts = [el("h3", {}, `${name} `, el("small", { text: c.activation })), table(head, rows)];
    if (this.phase === "update") {
      const wrows = [];
      for (let i = 0; i < c.W.length && wrows.length < MAX_WEIGHT_ROWS; i++) {
        for (let j = 0; j < units && wrows.length < MAX_WEIGHT_ROWS; j++) {
          wrows.push([`${srcName(i)}→n${j + 1}`, c.W[i][j], c.dW[i][j], c.newW[i][j]]);
        }
      }
      parts.push(table(["weight", "w", "dL/dw", "new w"], wrows));
      if (c.W.length * units > MAX_WEIGHT_ROWS) parts.push(el("p", { class: "hint", text: `first ${MAX_WEIGHT_ROWS} of ${c.W.length * units} weights` }));
    }
    return el("div", { class: "bp-col" }, ...parts);
  }
}
