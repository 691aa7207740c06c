// DOM controls bound to the state. Each `<div data-setting="key">` of the page becomes the
// control its row in the settings table calls for (select, slider, checkbox, number), labelled
// and explained from the table; changes go to the state, state changes come back to the DOM.
// Context rules (momentum only for the optimizers that use it, ...) and classroom hiding live here.
// The option texts of registry-backed rows (activations, optimizers, ...) come with the table.

import { TABLE, hiddenCss } from "./state.js";
import { el } from "./util.js";

/** Texts for the options of the page's own rows; a `source` row brings its `labels`. */
const OPTION_TEXT = {
  problem: { classification: "Classification", multiclass: "Multi-class (softmax)", regression: "Regression" },
  regularization: { none: "None", L1: "L1", L2: "L2" },
  dropout: { 0: "off" },
};

/** Does the chosen optimizer use the hyperparameter of row `key` (the server says which do)? */
const optimizerUses = key => s => ((TABLE.optimizer.uses || {})[s.optimizer] || []).includes(key);

/** When a control makes sense, given the other settings. */
const CONTEXT = {
  classes: s => s.problem === "multiclass",
  ...Object.fromEntries(Object.values(TABLE).filter(r => r.optimizerHyper).map(r => [r.key, optimizerUses(r.key)])),
  regularizationRate: s => s.regularization !== "none",
  ensembleSweep: s => s.ensemble > 1,
  noise: s => (s.problem === "regression" ? s.regDataset : s.dataset) !== "custom",
  seed: s => (s.problem === "regression" ? s.regDataset : s.dataset) !== "custom",
};

export class Controls {
  constructor(root, state) {
    this.root = root;
    this.state = state;
    this.widgets = {};
    for (const box of root.querySelectorAll("[data-setting]")) this._build(box);
    state.onChange(keys => this.refresh(keys));
    this.refresh(Object.keys(this.widgets));
  }

  _build(box) {
    const key = box.dataset.setting;
    const row = TABLE[key];
    if (!row) throw new Error(`no setting ${key}`);
    box.dataset.hide = box.dataset.hide || key;
    box.title = row.help;
    box.classList.add("ctl");
    const kind = box.dataset.widget || (row.type === "enum" ? "select" : row.type === "bool" ? "checkbox"
      : row.type === "int" && row.max - row.min <= 100 ? "range" : "number");
    let input, show = null;
    if (kind === "select") {
      input = el("select", { id: `ctl-${key}`, name: key },
        ...row.choices.map(c => el("option", { value: String(c), title: (row.helps || {})[c] ?? "",
                                               text: (row.labels || OPTION_TEXT[key] || {})[c] ?? String(c) })));
      input.addEventListener("change", () => this.state.set({ [key]: row.choices.find(c => String(c) === input.value) }));
      box.append(el("label", { for: input.id, text: row.label }), input);
    } else if (kind === "checkbox") {
      input = el("input", { type: "checkbox", id: `ctl-${key}`, name: key });
      input.addEventListener("change", () => this.state.set({ [key]: input.checked }));
      box.append(el("label", { class: "check" }, input, ` ${row.label}`));
    } else if (kind === "range") {
      input = el("input", { type: "range", id: `ctl-${key}`, name: key, min: row.min, max: row.max, step: row.step || 1 });
      show = el("b", { class: "value" });
      input.addEventListener("input", () => { show.textContent = this._text(key, Number(input.value)); });
      input.addEventListener("change", () => this.state.set({ [key]: Number(input.value) }));
      box.append(el("label", { for: input.id }, `${row.label}: `, show), input);
    } else {
      input = el("input", { type: "number", id: `ctl-${key}`, name: key, min: row.min, max: row.max,
                            step: row.type === "float" ? "any" : (row.step || 1) });
      input.addEventListener("change", () => {
        const v = Number(input.value);
        if (!this.state.set({ [key]: v }).length) input.value = String(this.state.get(key));
      });
      box.append(el("label", { for: input.id, text: row.label }), input);
    }
    this.widgets[key] = { box, input, show, kind };
  }

  _text(key, v) {
    if (key === "percTrainData") return `${v}%`;
    if (key === "noise") return String(v);
    return String(v);
  }

  refresh(keys) {
    const s = this.state.values;
    for (const key of keys) {
      const w = this.widgets[key];
      if (!w) continue;
      const v = s[key];
      if (w.kind === "checkbox") w.input.checked = v;
      else w.input.value = String(v);
      if (w.show) w.show.textContent = this._text(key, v);
    }
    for (const [key, w] of Object.entries(this.widgets)) {
      w.box.classList.toggle("na", CONTEXT[key] ? !CONTEXT[key](s) : false);
    }
    this.applyHidden();
  }

  /** Classroom mode: hide every element whose data-hide names a hidden control, now and
   * whenever it is drawn again (see hiddenCss). */
  applyHidden() {
    let sheet = document.getElementById("classroom-style");
    if (!sheet) { sheet = document.createElement("style"); sheet.id = "classroom-style"; document.head.append(sheet); }
    sheet.textContent = hiddenCss(this.state.hidden);
  }
}
