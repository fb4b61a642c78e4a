// A transcript's older entries, a page at a time: read when the reader comes
// near the top of the conversation or presses "Load older", until entry 1
// ("Start of the conversation") is shown.
import { errorLine, h, replace } from "../lib/dom.js";

const PAGE_SIZE = 50;
const PRELOAD_PX = 160;

export class OlderPages {
  /**
   * `read(start, limit)` resolves to the transcript's items from `start`;
   * `show(items)` puts them above the entries shown. Put `elements` at the top
   * of the scrolling region, then call `start(scroller)`.
   */
  constructor({ read, show }) {
    this.read = read;
    this.show = show;
    this.scroller = null;
    this.observer = null;
    this.generation = 0;
    this.sentinel = h("div", { class: "transcript-sentinel", "aria-hidden": "true" });
    this.startMarker = h("p", {
      class: "transcript-start",
      text: "Start of the conversation",
      hidden: true,
    });
    this.button = h("button", {
      type: "button",
      class: "load-older",
      text: "Load older",
      hidden: true,
      onclick: () => this.load(),
    });
    this.errors = h("div", { class: "older-errors" });
    this.elements = [this.sentinel, this.startMarker, this.button, this.errors];
    this.reset();
  }

  /** Forget what was shown: a fresh snapshot follows. */
  reset() {
    this.generation += 1;
    this.first = null; // the oldest sequence shown
    this.setLoading(false);
    replace(this.errors);
  }

  start(scroller) {
    this.scroller = scroller;
    this.observer = new IntersectionObserver(
      (entries) => {
        if (entries.some((entry) => entry.isIntersecting)) this.load();
      },
      { root: scroller, rootMargin: `${PRELOAD_PX}px 0px 0px 0px` },
    );
    this.observer.observe(this.sentinel);
  }

  close() {
    this.generation += 1;
    this.observer?.disconnect();
    this.observer = null;
  }

  /** An entry is shown: the oldest marks where the older pages end. */
  saw(sequence) {
    if (this.first === null || sequence < this.first) {
      this.first = sequence;
      this.update();
    }
  }

  hasOlder() {
    return this.first !== null && this.first > 1;
  }

  update() {
    this.button.hidden = !this.hasOlder();
    this.startMarker.hidden = this.first !== 1;
  }

  setLoading(loading) {
    this.loading = loading;
    this.button.disabled = loading;
    this.button.textContent = loading ? "Loading…" : "Load older";
  }

  async load() {
    if (this.loading || !this.hasOlder()) return;
    const generation = this.generation;
    const end = this.first;
    const start = Math.max(1, end - PAGE_SIZE);
    this.setLoading(true);
    replace(this.errors);
    let loaded = false;
    try {
      const items = await this.read(start, end - start);
      if (generation === this.generation) {
        this.show(items);
        this.first = start;
        loaded = true;
      }
    } catch (error) {
      if (generation === this.generation) replace(this.errors, errorLine(error));
    }
    if (generation !== this.generation) return;
    this.setLoading(false);
    this.update();
    if (loaded) this.maybeLoad();
  }

  /** Load on when the top is still in view (a short page, or a reader at the top). */
  maybeLoad() {
    if (!this.hasOlder() || !this.scroller || this.scroller.clientHeight === 0) return;
    const top = this.sentinel.getBoundingClientRect();
    const view = this.scroller.getBoundingClientRect();
    if (top.bottom >= view.top - PRELOAD_PX && top.top <= view.bottom) this.load();
  }
}
