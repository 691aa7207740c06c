// The hover card: shows a weight or bias under the pointer; a click turns it into an input
// (Enter sets the value on the server, Escape cancels), as TF Playground's card does.

import { el, fmt } from "../util.js";

export class HoverCard {
  constructor(parent) {
    this.title = el("b");
    this.sub = el("div", { class: "sub" });
    this.input = el("input", { type: "number", step: "any", class: "card-input" });
    this.root = el("div", { class: "hovercard", id: "hovercard" }, this.title, this.input, this.sub);
    this.root.style.display = "none";
    parent.append(this.root);
    this.editing = false;
    this.onSet = null;
    this.input.addEventListener("keydown", e => {
      if (e.key === "Enter") this._commit();
      if (e.key === "Escape") this.close();
    });
    this.input.addEventListener("blur", () => setTimeout(() => this.close(), 150));
  }

  _place(x, y) {
    this.root.style.left = `${x}px`;
    this.root.style.top = `${y}px`;
    this.root.style.display = "block";
  }

  show(x, y, title, sub) {
    if (this.editing) return;
    this.title.textContent = title;
    this.sub.textContent = sub;
    this.input.style.display = "none";
    this._place(x, y);
  }

  edit(x, y, what, where, value, onSet) {
    this.editing = true;
    this.onSet = onSet;
    this.title.textContent = `${what}:`;
    this.sub.textContent = `${where} · Enter to set, Esc to cancel`;
    this.input.style.display = "inline-block";
    this.input.value = Number.isFinite(value) ? fmt(value, 6) : "0";
    this._place(x, y);
    this.input.focus();
    this.input.select();
  }

  _commit() {
    const v = Number(this.input.value);
    if (this.input.value.trim() !== "" && Number.isFinite(v) && this.onSet) this.onSet(v);
    this.close();
  }

  close() {
    this.editing = false;
    this.onSet = null;
    this.hide();
  }

  hide() { if (!this.editing) this.root.style.display = "none"; }

  hideUnlessEditing() { this.hide(); }
}
