// Guided lessons: one per exercise of seed 001 (glassnet/playground/lessons.py, served with the
// settings table). Opening a lesson sets its setup and the `lesson` setting, so the lesson is in
// the URL like every other state; the card says what to try and what to look for, and "Show me"
// sends a lesson's own messages (the backprop exercise's weights and point).

import { el } from "../util.js";

export class LessonsView {
  constructor(root, { state, lessons, defaults, send }) {
    this.root = root;
    this.state = state;
    this.lessons = lessons;
    this.defaults = defaults;
    this.send = send;
    this.list = root.querySelector("#lesson-list");
    this.card = root.querySelector("#lesson-card");
    this.list.replaceChildren(...lessons.map(lesson => el("button", {
      class: "lesson-pick", "data-lesson": lesson.id, title: lesson.title,
      onclick: () => this.open(lesson.id),
    }, el("b", { text: lesson.exercise }), ` ${lesson.title}`)));
    state.onChange(keys => { if (keys.includes("lesson")) this.render(); });
    this.render();
  }

  byId(id) { return this.lessons.find(l => l.id === id); }

  /** The lesson's setup on top of the defaults (so it means the same from any page state). */
  open(id) {
    const lesson = this.byId(id);
    if (!lesson) return;
    this.state.set({ ...this.defaults(), ...lesson.settings, lesson: id });
    this.render();
  }

  showMe(lesson) {
    this.open(lesson.id);
    for (const { type, ...fields } of lesson.actions || []) this.send(type, fields);
  }

  render() {
    const id = this.state.get("lesson");
    this.list.querySelectorAll(".lesson-pick").forEach(b => b.classList.toggle("on", b.dataset.lesson === id));
    const lesson = this.byId(id);
    this.card.hidden = !lesson;
    if (!lesson) { this.card.replaceChildren(); return; }
    const i = this.lessons.indexOf(lesson), next = this.lessons[(i + 1) % this.lessons.length];
    this.card.replaceChildren(
      el("h3", {}, el("span", { class: "lesson-ex", text: `Exercise ${lesson.exercise}` }), ` ${lesson.title}`),
      el("div", { class: "lesson-cols" },
        el("div", {}, el("h4", { text: "Try" }), el("ol", {}, ...lesson.try.map(t => el("li", { text: t })))),
        el("div", {}, el("h4", { text: "Look for" }), el("p", { class: "lesson-look", text: lesson.look }))),
      el("div", { class: "lesson-buttons" },
        el("button", { id: "lesson-setup", title: "Set this lesson's settings again", onclick: () => this.open(lesson.id) },
           "Set up again"),
        lesson.actions ? el("button", { id: "lesson-show", class: "primary", onclick: () => this.showMe(lesson) }, "Show me") : null,
        el("button", { id: "lesson-next", onclick: () => this.open(next.id) }, `Next: ${next.title} →`),
        el("button", { id: "lesson-close", onclick: () => this.state.set({ lesson: "" }) }, "Close")));
  }
}
