// The page's state: ONE typed table of every control (served by the server from
// glassnet/playground/settings.py as /settings.js), its values, and the URL hash.
// The option lists of a row with a `source` (activations, initializers, optimizers, data sets)
// come from the engine's registries; such a row also carries `labels`, `helps` and `aliases`.
//
// Hash format (TF Playground's): "#key=value&key=value", lists comma-separated
// ("networkShape=4,2"), booleans "true"/"false". Classroom mode: "<control>_hide=true" hides a
// control; the extra UI parts listed in EXTRA_HIDEABLE can be hidden the same way.

import { SETTINGS as SERVER_SETTINGS, LIMITS, LESSONS } from "/settings.js";

/** Rows of the page's own: how the page draws, nothing the server computes. They join the
 * table (so the URL, the controls and classroom mode treat them as every other row) but are
 * never sent to the server (see `State.serverKeys`). Validated here as the server's are. */
export const PAGE_SETTINGS = [
  { key: "linkFlow", type: "bool", default: false, label: "Animate link flow", group: "view", effect: "view", page: true,
    help: "Dashes move along each link of the network diagram, faster where more signal passes (|weight| × mean |input| "
      + "over the square; with a backprop trace shown, that point's values: forward in the forward phase, the "
      + "gradient backwards in the others). Paused while the page is in the background or drawing slowly." },
];
export const SETTINGS = [...SERVER_SETTINGS, ...PAGE_SETTINGS];
export { LIMITS, LESSONS };
export const TABLE = Object.fromEntries(SETTINGS.map(row => [row.key, row]));

/** Parts of the page that are not settings but can be hidden in classroom mode. */
export const EXTRA_HIDEABLE = {
  playButton: "Play/pause button", stepButton: "Step button", resetButton: "Reset button",
  regenerate: "Regenerate button", numHiddenLayers: "Add/remove layers and neurons",
  customData: "Your own points (CSV, drawing)", backprop: "Backprop step view",
  exportImport: "Export and import", confusion: "Confusion matrix", chart: "Loss chart",
  ensembleView: "Ensemble view", lessons: "Guided lessons", classroom: "This classroom panel (students cannot untick anything)",
};

/** Classroom mode as a style sheet: every element whose `data-hide` names a hidden control
 * (a space-separated list: an element belonging to two controls hides with either) is not
 * displayed, and every element whose `data-lock` names one ignores the pointer. A rule, not a
 * pass over the DOM, so parts drawn later (the network diagram after a rebuild) hide too. */
export function hiddenCss(hidden) {
  return [...hidden].map(name => {
    const n = CSS.escape(name);
    return `[data-hide~="${n}"]{display:none!important}[data-lock~="${n}"]{pointer-events:none!important;cursor:default!important}`;
  }).join("\n");
}

function sameValue(a, b) {
  return Array.isArray(a) ? Array.isArray(b) && a.length === b.length && a.every((x, i) => x === b[i]) : a === b;
}

/** The option a name means in a `source` row: names compare as the registries compare them
 * (case, "-" or "_"), and an alias means its entry ("linear" is "identity"). */
export function optionName(row, text) {
  if (!row.source || text === "") return text;
  const key = text.trim().toLowerCase().replaceAll("-", "_");
  return row.choices.includes(key) ? key : (row.aliases || {})[key] ?? text;
}

/** A value from its URL text, or undefined when the text is not allowed for the row. */
export function parseValue(row, text) {
  let v;
  switch (row.type) {
    case "bool": v = text === "true" ? true : text === "false" ? false : undefined; break;
    case "int": case "float": v = text.trim() === "" ? undefined : Number(text); break;
    case "enum": {
      const name = optionName(row, text);
      const hit = row.choices.find(c => String(c) === name || (typeof c === "number" && Number(text) === c));
      v = hit;
      break;
    }
    case "intlist": v = text === "" ? [] : text.split(",").map(Number); break;
    case "enumlist": v = text === "" ? [] : text.split(",").map(t => optionName(row, t)); break;
  }
  return v !== undefined && validValue(row, v) ? v : undefined;
}

export function formatValue(row, v) {
  return Array.isArray(v) ? v.join(",") : String(v);
}

/** The same checks as glassnet.playground.settings.validate. */
export function validValue(row, v) {
  switch (row.type) {
    case "bool": return typeof v === "boolean";
    case "enum": return row.choices.includes(v);
    case "int": return Number.isInteger(v) && v >= row.min && v <= row.max && (v - row.min) % (row.step || 1) === 0;
    case "float": return Number.isFinite(v) && v >= row.min && v <= row.max;
    case "intlist":
      return Array.isArray(v) && v.length <= row.maxlen && v.every(x => Number.isInteger(x) && x >= row.min && x <= row.max);
    case "enumlist": return Array.isArray(v) && v.length <= row.maxlen && v.every(x => row.choices.includes(x));
  }
  return false;
}

export function defaults() {
  return Object.fromEntries(SETTINGS.map(r => [r.key, Array.isArray(r.default) ? [...r.default] : r.default]));
}

export class State {
  constructor() {
    this.values = defaults();
    this.hidden = new Set();
    this.listeners = [];
  }

  get(key) { return this.values[key]; }

  /** Apply valid changes; listeners get (changedKeys, source). Returns the changed keys. */
  set(changes, source = "page") {
    const changed = [];
    for (const [key, value] of Object.entries(changes)) {
      const row = TABLE[key];
      if (!row || !validValue(row, value) || sameValue(this.values[key], value)) continue;
      this.values[key] = Array.isArray(value) ? [...value] : value;
      changed.push(key);
    }
    if (changed.length) this.listeners.forEach(fn => fn(changed, source));
    return changed;
  }

  onChange(fn) { this.listeners.push(fn); }

  /** The keys the server knows (every row but the page's own). */
  static serverKeys(keys) { return keys.filter(k => !TABLE[k].page); }

  setHidden(name, hide) {
    if (hide) this.hidden.add(name); else this.hidden.delete(name);
    this.listeners.forEach(fn => fn([], "hidden"));
  }

  /** Every setting (so a link means the same thing whatever the defaults), then hidden flags. */
  toHash() {
    const parts = SETTINGS.map(r => `${r.key}=${encodeURIComponent(formatValue(r, this.values[r.key]))}`);
    for (const name of [...this.hidden].sort()) parts.push(`${name}_hide=true`);
    return parts.join("&");
  }

  /** Read a hash: {values, hidden, ignored} (ignored: keys unknown or values not allowed). */
  static parseHash(hash) {
    const values = {}, hidden = new Set(), ignored = [];
    const text = hash.replace(/^#/, "");
    if (!text) return { values, hidden, ignored };
    for (const part of text.split("&")) {
      const eq = part.indexOf("=");
      if (eq < 0) { if (part) ignored.push(part); continue; }
      const key = decodeURIComponent(part.slice(0, eq)), raw = decodeURIComponent(part.slice(eq + 1));
      if (key.endsWith("_hide")) {
        const name = key.slice(0, -5);
        if ((TABLE[name] || EXTRA_HIDEABLE[name]) && raw === "true") hidden.add(name);
        continue;
      }
      const row = TABLE[key];
      const v = row ? parseValue(row, raw) : undefined;
      if (v === undefined) ignored.push(key); else values[key] = v;
    }
    return { values, hidden, ignored };
  }
}
