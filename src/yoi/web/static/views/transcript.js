// A worker's transcript, drawn live: the entries so far, then each event as it comes.
//
// The runtime keeps the transcript as entries numbered by `sequence` from 1
// (user, assistant, tool and system); events say what happens as it happens.
// Each entry is made at a known event, so what is drawn live is numbered at
// once by counting on from the snapshot's tail:
// - a user entry: `input_accepted` names it (`transcript_sequence`), except
//   for a queued input, whose entry is made when its run starts (`run_started`);
// - an assistant entry: just after a `text_done` with some text;
// - a tool call entry at `tool_call_started`, its result at `tool_call_finished`
//   (one <li> shows both: `data-sequence` and `data-result-sequence`).
// After each run the transcript is read back from the last entry checked, to
// confirm those numbers and fill in what events do not carry (a tool's output,
// the text of an input queued before the page opened). Should they ever
// disagree, the view starts over from a fresh snapshot: never a duplicate,
// never a gap.
import { api, workerPath } from "../lib/api.js";
import { errorLine, formatTime, h, replace } from "../lib/dom.js";
import { WorkerStream } from "../lib/socket.js";

const PAGE_SIZE = 50;
const CHECK_PAGE = 200;
const STICKY_PX = 48;
const PRELOAD_PX = 160;
const STATE_TEXT = {
  connecting: "connecting…",
  open: "live",
  retrying: "reconnecting…",
  closed: "closed",
};
const RESULT_TEXT = {
  completed: "Run completed",
  cancelled: "Run cancelled",
  failed: "Run failed",
  limit_reached: "Run stopped at its turn limit",
};
const ROLE_LABEL = { user: "You", tool: "Tool", system: "System" };
const RESYNC_CODES = new Set(["cursor_expired", "invalid_cursor"]);
const noop = () => {};

/**
 * A live transcript. Put `element` in the page, then call `start()`; `close()` ends the stream.
 *
 * Options: `runtimeId`, `workerId`; `assistantLabel` (who the assistant is, else the
 * worker's display name); callbacks `onStatus(status)`, `onWorker(worker detail)`
 * (from each fresh snapshot) and `onEvent(frame)` (every event after the snapshot).
 */
export function createTranscript(options) {
  return new Transcript(options);
}

class Transcript {
  constructor({ runtimeId, workerId, assistantLabel = null, onStatus, onWorker, onEvent }) {
    this.runtimeId = runtimeId;
    this.workerId = workerId;
    this.assistantLabel = assistantLabel;
    this.workerName = null;
    this.handlers = {
      onStatus: onStatus || noop,
      onWorker: onWorker || noop,
      onEvent: onEvent || noop,
    };
    this.stream = null;
    this.observer = null;
    this.generation = 0;
    this.build();
    this.reset();
  }

  build() {
    this.stateElement = h("span", {
      class: "stream-state",
      dataset: { role: "stream-state", state: "closed" },
      text: STATE_TEXT.closed,
    });
    this.diagnostics = h("div", { class: "stream-diagnostics" });
    this.sentinel = h("div", { class: "transcript-sentinel", "aria-hidden": "true" });
    this.startMarker = h("p", {
      class: "transcript-start",
      text: "Start of the conversation",
      hidden: true,
    });
    this.olderButton = h("button", {
      type: "button",
      class: "load-older",
      text: "Load older",
      hidden: true,
      onclick: () => this.loadOlder(),
    });
    this.olderErrors = h("div", { class: "older-errors" });
    this.list = h("ol", {
      class: "transcript",
      role: "log",
      "aria-live": "polite",
      "aria-label": "Transcript",
    });
    this.scroller = h(
      "div",
      { class: "transcript-scroll", role: "region", "aria-label": "Conversation", tabindex: "0" },
      this.sentinel,
      this.startMarker,
      this.olderButton,
      this.olderErrors,
      this.list,
      h("p", { class: "empty transcript-empty", text: "Nothing has been said yet." }),
    );
    this.scroller.addEventListener("scroll", () => {
      this.stick = this.atBottom();
    });
    this.element = h(
      "div",
      { class: "transcript-view" },
      h("div", { class: "stream-bar" }, this.stateElement, this.diagnostics),
      this.scroller,
    );
  }

  /** Forget everything drawn: a fresh snapshot follows. */
  reset() {
    this.generation += 1;
    this.known = new Map(); // sequence -> the <li> showing it
    this.runs = new Map(); // run id -> {user, finished, result}
    this.tools = new Map(); // call id -> the <li> showing the call
    this.live = null; // the assistant entry being streamed
    this.currentRun = null;
    this.total = 0; // entries the worker has made, as far as the events tell
    this.checked = 0; // entries up to here were read back from the transcript
    this.first = null; // the oldest sequence shown
    this.stick = true;
    this.checking = null;
    this.checkAgain = false;
    this.loadingOlder = false;
    this.olderButton.disabled = false;
    this.olderButton.textContent = "Load older";
    this.list.replaceChildren();
    replace(this.olderErrors);
  }

  start() {
    this.observer = new IntersectionObserver(
      (entries) => {
        if (entries.some((entry) => entry.isIntersecting)) this.loadOlder();
      },
      { root: this.scroller, rootMargin: `${PRELOAD_PX}px 0px 0px 0px` },
    );
    this.observer.observe(this.sentinel);
    this.open();
    return this;
  }

  close() {
    this.generation += 1;
    this.stream?.close();
    this.stream = null;
    this.observer?.disconnect();
    this.observer = null;
  }

  open() {
    this.stream = new WorkerStream(this.runtimeId, this.workerId, {
      snapshot: (event) => this.takeSnapshot(event),
      resumed: (event) => this.takeResumed(event),
      event: (frame) => this.takeFrame(frame),
      diagnostic: (frame) => this.takeDiagnostic(frame),
      state: (state) => this.showState(state),
    }).start();
  }

  /** Start over from a fresh snapshot (what was drawn disagrees with the transcript). */
  resync() {
    this.stream?.close();
    this.open();
  }

  path(suffix) {
    return workerPath(this.runtimeId, this.workerId, suffix);
  }

  // -- the stream ------------------------------------------------------------

  showState(state) {
    this.stateElement.dataset.state = state;
    this.stateElement.textContent = STATE_TEXT[state] || state;
  }

  takeDiagnostic(frame) {
    if (!RESYNC_CODES.has(frame.code)) replace(this.diagnostics, errorLine(frame));
  }

  takeSnapshot(event) {
    this.reset();
    replace(this.diagnostics);
    const worker = event.worker || {};
    this.workerName = worker.display_name || null;
    this.currentRun = event.run?.run_id ?? null;
    const tail = event.transcript_tail || [];
    this.list.append(this.renderItems(tail));
    this.total = this.checked = tail.length ? tail[tail.length - 1].sequence : 0;
    if (event.run) this.showRun(event.run);
    this.settleTools();
    this.handlers.onWorker(worker);
    this.handlers.onStatus(worker.status);
    this.updateOlder();
    this.toBottom();
    this.maybeLoadOlder();
  }

  takeResumed(event) {
    replace(this.diagnostics);
    if (event.worker?.status) this.handlers.onStatus(event.worker.status);
  }

  takeFrame(frame) {
    const event = frame.event;
    switch (event.type) {
      case "input_accepted":
        this.inputAccepted(event, frame.at);
        break;
      case "run_started":
        this.runStarted(event, frame.at);
        break;
      case "thinking_delta":
        this.thinkingOf(this.liveFor(event.run_id, frame.at)).node.appendData(event.text);
        break;
      case "thinking_done":
        this.thinkingDone(event, frame.at);
        break;
      case "text_delta":
        this.liveFor(event.run_id, frame.at).node.appendData(event.text);
        break;
      case "text_done":
        this.textDone(event, frame.at);
        break;
      case "tool_call_started":
        this.toolStarted(event, frame.at);
        break;
      case "tool_call_finished":
        this.toolFinished(event, frame.at);
        break;
      case "run_finished":
        this.runFinished(event);
        break;
      case "error":
        this.add(h("li", { class: "event-error" }, errorLine(event)));
        break;
      case "status":
        this.handlers.onStatus(event.status);
        break;
      case "worker_stopped":
        this.workerStopped(event);
        break;
      default:
        break;
    }
    this.handlers.onEvent(frame);
    this.follow();
  }

  // -- events ----------------------------------------------------------------

  inputAccepted(event, at) {
    const sequence = event.transcript_sequence;
    const run = this.run(event.run_id);
    if (sequence !== null && sequence !== undefined) {
      const there = this.known.get(sequence);
      if (there && there.dataset.role === "user" && there.dataset.runId === event.run_id) return;
      if (there || sequence !== this.total + 1) {
        this.resync();
        return;
      }
    }
    if (run.user) return;
    run.user = this.textItem("user", event.content, { runId: event.run_id, at });
    if (event.queued) {
      run.user.classList.add("queued");
      addNote(run.user, "queued");
      this.list.append(run.user); // queued inputs wait below everything else
    } else {
      this.add(run.user);
      this.number(run.user);
    }
  }

  runStarted(event, at) {
    this.currentRun = event.run_id;
    const run = this.run(event.run_id);
    if (!run.user) {
      // An input queued before this page opened: its entry is made now, its text read back.
      run.user = this.textItem("user", "(a queued message)", { runId: event.run_id, at });
      run.user.classList.add("pending");
      this.add(run.user);
      this.number(run.user);
      this.checkSoon();
    } else if (run.user.classList.contains("queued")) {
      this.unqueue(run.user);
      this.number(run.user);
    }
  }

  thinkingDone(event, at) {
    const thinking = this.thinkingOf(this.liveFor(event.run_id, at));
    thinking.node.data = event.text;
    thinking.summary.textContent = "Thought";
    thinking.details.open = false;
  }

  textDone(event, at) {
    const live = this.liveFor(event.run_id, at);
    live.node.data = event.text;
    if (event.text) this.number(live.li); // the runtime records it right after
    this.endLive();
  }

  toolStarted(event, at) {
    this.endLive();
    const li = this.toolItem(event.call_id, event.name, event.run_id, at);
    setToolArguments(li, event.arguments);
    this.add(li);
    this.number(li);
  }

  toolFinished(event, at) {
    let li = this.tools.get(event.call_id);
    if (!li) {
      li = this.toolItem(event.call_id, event.name, event.run_id, at);
      this.add(li);
    }
    setToolResult(li, { isError: event.is_error, summary: event.summary });
    this.number(li, "resultSequence");
  }

  runFinished(event) {
    const run = this.run(event.run_id);
    if (this.live?.runId === event.run_id) this.endLive({ cut: true });
    if (run.user?.classList.contains("queued")) {
      this.unqueue(run.user);
      run.user.dataset.dropped = "";
    }
    if (this.currentRun === event.run_id) this.currentRun = null;
    run.finished = true;
    this.settleTools();
    run.result = h(
      "li",
      { class: "run-result", dataset: { result: event.result, runId: event.run_id } },
      h("span", { class: "run-result-text", text: RESULT_TEXT[event.result] || event.result }),
      event.error ? errorLine(event.error) : null,
    );
    this.add(run.result);
    this.checkSoon();
  }

  workerStopped(event) {
    const reason = event.reason ? `: ${event.reason}` : "";
    const text = `Worker stopped${reason}`;
    this.add(h("li", { class: "notice", dataset: { kind: "stopped" }, text }));
    this.handlers.onStatus("stopped");
  }

  /** The run in flight at the snapshot: what it has said so far. */
  showRun(run) {
    if (!run.text && !run.thinking) return;
    const live = this.liveFor(run.run_id, null);
    if (run.thinking) this.thinkingOf(live).node.data = run.thinking;
    live.node.data = run.text || "";
  }

  // -- entries ---------------------------------------------------------------

  run(runId) {
    let run = this.runs.get(runId);
    if (!run) {
      run = { user: null, finished: false, result: null };
      this.runs.set(runId, run);
    }
    return run;
  }

  /** Add below the conversation, above the inputs still queued. */
  add(li) {
    this.list.insertBefore(li, this.list.querySelector(":scope > li.queued"));
  }

  unqueue(li) {
    li.classList.remove("queued");
    li.querySelector(".entry-note")?.remove();
    this.add(li);
  }

  /** Give `li` the next sequence (the entry the worker has just made). */
  number(li, key = "sequence") {
    this.total += 1;
    li.dataset[key] = String(this.total);
    this.learn(this.total, li);
  }

  learn(sequence, li) {
    this.known.set(sequence, li);
    if (this.first === null || sequence < this.first) {
      this.first = sequence;
      this.updateOlder();
    }
  }

  assistantName() {
    return this.assistantLabel || this.workerName || "Assistant";
  }

  entryItem(role, { sequence = null, runId = null, at = null } = {}) {
    const who = role === "assistant" ? this.assistantName() : ROLE_LABEL[role] || role;
    const li = h(
      "li",
      { class: "entry", dataset: { role } },
      h(
        "div",
        { class: "entry-head" },
        h("span", { class: "entry-who", text: who }),
        at ? h("time", { datetime: at, text: formatTime(at) }) : null,
      ),
    );
    if (runId) li.dataset.runId = runId;
    if (sequence !== null) li.dataset.sequence = String(sequence);
    return li;
  }

  textItem(role, content, options) {
    const li = this.entryItem(role, options);
    li.append(h("div", { class: "entry-text", text: content }));
    return li;
  }

  toolItem(callId, name, runId, at) {
    const li = this.entryItem("tool", { runId, at });
    li.dataset.callId = callId;
    li.append(
      h(
        "div",
        { class: "tool-call", dataset: { callId, state: "running" } },
        h(
          "div",
          { class: "tool-head" },
          h("code", { class: "tool-name", text: name }),
          h("span", { class: "tool-state", text: "running…" }),
        ),
        h("pre", { class: "tool-arguments" }),
        h("p", { class: "tool-summary", hidden: true }),
      ),
    );
    this.tools.set(callId, li);
    return li;
  }

  liveFor(runId, at) {
    if (this.live?.runId === runId) return this.live;
    this.endLive();
    const li = this.entryItem("assistant", { runId, at });
    li.classList.add("live");
    const node = document.createTextNode("");
    li.append(h("div", { class: "entry-text" }, node));
    this.add(li);
    this.live = { runId, li, node, thinking: null };
    return this.live;
  }

  thinkingOf(live) {
    if (!live.thinking) {
      const node = document.createTextNode("");
      const summary = h("summary", { text: "Thinking…" });
      const details = h(
        "details",
        { class: "thinking", open: true },
        summary,
        h("div", { class: "thinking-text" }, node),
      );
      live.li.insertBefore(details, live.li.querySelector(".entry-text"));
      live.thinking = { details, summary, node };
    }
    return live.thinking;
  }

  /** The streamed entry is complete (or, `cut`, its run ended before it was). */
  endLive({ cut = false } = {}) {
    const live = this.live;
    if (!live) return;
    this.live = null;
    live.li.classList.remove("live");
    if (!live.node.data && !live.thinking) live.li.remove();
    else if (cut && !live.li.dataset.sequence && live.node.data) {
      live.li.dataset.partial = "";
      addNote(live.li, "cut off");
    }
  }

  /** Calls left running by a run that has ended will get no result. */
  settleTools() {
    for (const call of this.list.querySelectorAll('.tool-call[data-state="running"]')) {
      const li = call.closest("li");
      if (li.dataset.runId === this.currentRun) continue;
      const summary = "no result: the run ended before this call did";
      setToolResult(li, { isError: true, summary });
    }
  }

  /** Entries read from the transcript, as a fragment; those shown already are skipped. */
  renderItems(items) {
    const fragment = document.createDocumentFragment();
    for (const item of items) {
      if (this.known.has(item.sequence)) continue;
      const li = item.role === "tool" && item.tool ? this.renderTool(item) : this.renderText(item);
      if (li) fragment.append(li);
    }
    return fragment;
  }

  renderText(item) {
    const options = { sequence: item.sequence, runId: item.run_id, at: item.at };
    const li = this.textItem(item.role, item.content, options);
    if (item.role === "user" && item.run_id) this.run(item.run_id).user = li;
    if (item.truncated) li.append(this.showAllButton(li, item.sequence));
    this.learn(item.sequence, li);
    return li;
  }

  /** A call and its result share one <li>; returns it only when it is new. */
  renderTool(item) {
    const { call_id: callId, name, result, is_error: isError, summary } = item.tool;
    const existing = this.tools.get(callId);
    const li = existing || this.toolItem(callId, name, item.run_id, item.at);
    if (result) {
      li.dataset.resultSequence = String(item.sequence);
      setToolResult(li, { isError, summary, output: item.content });
    } else {
      li.dataset.sequence = String(item.sequence);
      setToolArguments(li, item.content);
    }
    this.learn(item.sequence, li);
    return existing ? null : li;
  }

  showAllButton(li, sequence) {
    const button = h("button", {
      type: "button",
      class: "show-all",
      text: "Show the whole entry",
      onclick: async () => {
        try {
          const params = { start: sequence, limit: 1 };
          const { transcript } = await api.get(this.path("/transcript"), params);
          const whole = transcript.items[0];
          if (whole) li.querySelector(".entry-text").textContent = whole.content;
          button.remove();
        } catch (error) {
          button.replaceWith(errorLine(error));
        }
      },
    });
    return button;
  }

  // -- reading the transcript back -------------------------------------------

  checkSoon() {
    if (this.checking) {
      this.checkAgain = true;
      return;
    }
    this.checking = this.check().finally(() => {
      this.checking = null;
      if (this.checkAgain) {
        this.checkAgain = false;
        this.checkSoon();
      }
    });
  }

  async check() {
    const generation = this.generation;
    while (this.checked < this.total) {
      let transcript;
      try {
        const params = { start: this.checked + 1, limit: CHECK_PAGE };
        ({ transcript } = await api.get(this.path("/transcript"), params));
      } catch {
        return; // the end of the next run checks again
      }
      if (generation !== this.generation) return;
      const before = this.checked;
      for (const item of transcript.items) {
        if (item.sequence > this.total) break; // its event is still on the way
        const li = this.known.get(item.sequence);
        if (!li || !sameEntry(li, item)) {
          this.resync();
          return;
        }
        fillIn(li, item);
        this.checked = item.sequence;
      }
      if (this.checked === before) return;
    }
  }

  // -- older entries and scrolling -------------------------------------------

  hasOlder() {
    return this.first !== null && this.first > 1;
  }

  updateOlder() {
    this.olderButton.hidden = !this.hasOlder();
    this.startMarker.hidden = this.first !== 1;
  }

  async loadOlder() {
    if (this.loadingOlder || !this.hasOlder()) return;
    const generation = this.generation;
    const end = this.first;
    const start = Math.max(1, end - PAGE_SIZE);
    this.loadingOlder = true;
    this.olderButton.disabled = true;
    this.olderButton.textContent = "Loading…";
    replace(this.olderErrors);
    let loaded = false;
    try {
      const { transcript } = await api.get(this.path("/transcript"), { start, limit: end - start });
      if (generation === this.generation) {
        this.prepend(transcript.items);
        this.first = start;
        loaded = true;
      }
    } catch (error) {
      if (generation === this.generation) replace(this.olderErrors, errorLine(error));
    }
    if (generation !== this.generation) return;
    this.loadingOlder = false;
    this.olderButton.disabled = false;
    this.olderButton.textContent = "Load older";
    this.updateOlder();
    if (loaded) this.maybeLoadOlder();
  }

  /** Put older entries on top, keeping what the reader looks at where it is. */
  prepend(items) {
    const before = this.scroller.scrollHeight;
    this.list.prepend(this.renderItems(items));
    this.settleTools();
    this.scroller.scrollTop += this.scroller.scrollHeight - before;
  }

  /** Load on when the top is still in view (a short page, or a reader at the top). */
  maybeLoadOlder() {
    if (!this.hasOlder() || this.scroller.clientHeight === 0) return;
    const top = this.sentinel.getBoundingClientRect();
    const view = this.scroller.getBoundingClientRect();
    if (top.bottom >= view.top - PRELOAD_PX && top.top <= view.bottom) this.loadOlder();
  }

  atBottom() {
    const { scrollHeight, scrollTop, clientHeight } = this.scroller;
    return scrollHeight - scrollTop - clientHeight < STICKY_PX;
  }

  toBottom() {
    this.scroller.scrollTop = this.scroller.scrollHeight;
  }

  /** Keep the newest in view while streaming, unless the reader scrolled up. */
  follow() {
    if (this.stick) this.toBottom();
  }
}

function sameEntry(li, item) {
  if (li.dataset.role !== item.role) return false;
  if (item.run_id && li.dataset.runId && li.dataset.runId !== item.run_id) return false;
  if (item.role === "tool") return li.dataset.callId === item.tool?.call_id;
  return true;
}

/** What the transcript says that the events did not. */
function fillIn(li, item) {
  if (li.classList.contains("pending")) {
    li.classList.remove("pending");
    li.querySelector(".entry-text").textContent = item.content;
  }
  if (item.role === "tool" && item.tool?.result) {
    const tool = item.tool;
    setToolResult(li, { isError: tool.is_error, summary: tool.summary, output: item.content });
  }
}

function addNote(li, text) {
  li.querySelector(".entry-head").append(h("span", { class: "entry-note", text }));
}

function setToolArguments(li, raw) {
  li.querySelector(".tool-arguments").textContent = prettyJson(raw);
}

function setToolResult(li, { isError, summary, output = null }) {
  const call = li.querySelector(".tool-call");
  call.dataset.state = isError ? "error" : "done";
  call.querySelector(".tool-state").textContent = isError ? "failed" : "done";
  const line = call.querySelector(".tool-summary");
  if (summary) {
    line.textContent = summary;
    line.hidden = false;
  }
  if (output === null || output === undefined || output === "" || output === summary) return;
  let details = call.querySelector(".tool-output");
  if (!details) {
    details = h("details", { class: "tool-output" }, h("summary", { text: "Output" }), h("pre"));
    call.append(details);
  }
  details.querySelector("pre").textContent = output;
}

function prettyJson(raw) {
  try {
    return JSON.stringify(JSON.parse(raw), null, 2);
  } catch {
    return String(raw ?? "");
  }
}
