// A worker's transcript, drawn live: the entries so far, then each event as it comes.
//
// The runtime keeps the transcript as entries numbered by `sequence` from 1
// (user, assistant, tool and system); events say what happens as it happens,
// and the events that make an entry name it (`transcript_sequence`):
// `input_accepted` (a user entry, unless the input was queued), `text_done`
// (an assistant entry, when there is text; with `cut`, as its entry, when a
// cancelled run kept what was said so far), `tool_call_started` and
// `tool_call_finished` (one <li> shows both: `data-sequence` and
// `data-result-sequence`). The view never counts entries itself.
// A queued input's entry is made when its run starts, and `run_started` names
// no entry: after each run the transcript is read back from the last entry
// checked, which numbers it, confirms the others and fills in what events do
// not carry (a tool's output, the text of an input queued before the page
// opened). Should they ever disagree, the view starts over from a fresh
// snapshot: never a duplicate, never a gap.
// Replies are Markdown: they stream as plain text and, once done, show the
// backend's rendering (`?render=html`), at the same text size.
//
// A pending approval (`approval_requested`, and the snapshot's worker
// `approvals`) is drawn at its tool call until `approval_resolved` ends it.
//
// The entries themselves are built by views/entries.js, tool calls by
// views/tool_call.js, approvals by views/approval.js; older pages are read
// by views/transcript_paging.js.
import { api, workerPath } from "../lib/api.js";
import { errorLine, h, replace } from "../lib/dom.js";
import { WorkerStream } from "../lib/socket.js";
import {
  endLiveEntry,
  errorItem,
  fillIn,
  liveEntry,
  showReply,
  runResultItem,
  sameEntry,
  setQueued,
  showAllButton,
  stoppedItem,
  textItem,
  thinkingOf,
} from "./entries.js";
import { fillInTool, settleCalls, showToolEntry, ToolCalls } from "./tool_call.js";
import { OlderPages } from "./transcript_paging.js";

const CHECK_PAGE = 200;
const STICKY_PX = 48;
const STATE_TEXT = {
  connecting: "connecting…",
  open: "live",
  retrying: "reconnecting…",
  closed: "closed",
};
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
    this.generation = 0;
    this.calls = new ToolCalls({
      add: (li) => this.add(li),
      decide: (id, decision) =>
        api.post(this.path(`/approvals/${encodeURIComponent(id)}`), { decision }),
    });
    this.older = new OlderPages({
      read: (start, limit) => this.readItems(start, limit),
      show: (items) => this.prepend(items),
    });
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
    this.list = h("ol", {
      class: "transcript",
      role: "log",
      "aria-live": "polite",
      "aria-label": "Transcript",
    });
    this.scroller = h(
      "div",
      { class: "transcript-scroll", role: "region", "aria-label": "Conversation", tabindex: "0" },
      ...this.older.elements,
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
    this.calls.reset();
    this.live = null; // the assistant entry being streamed
    this.currentRun = null;
    this.total = 0; // the highest entry the events or the snapshot named
    this.checked = 0; // entries up to here were read back from the transcript
    this.stick = true;
    this.checking = null;
    this.checkAgain = false;
    this.older.reset();
    this.list.replaceChildren();
  }

  start() {
    this.older.start(this.scroller);
    this.open();
    return this;
  }

  close() {
    this.generation += 1;
    this.stream?.close();
    this.stream = null;
    this.older.close();
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
    this.renderReplies(tail);
    if (event.run) this.showRun(event.run);
    for (const approval of worker.approvals || []) this.calls.approval(approval, null);
    this.settleTools();
    this.handlers.onWorker(worker);
    this.handlers.onStatus(worker.status);
    this.older.update();
    this.toBottom();
    this.older.maybeLoad();
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
        thinkingOf(this.liveFor(event.run_id, frame.at)).node.appendData(event.text);
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
      case "approval_requested":
        this.calls.approval(event, frame.at);
        break;
      case "approval_resolved":
        this.calls.resolved(event);
        break;
      case "run_finished":
        this.runFinished(event);
        break;
      case "error":
        this.add(errorItem(event));
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
    if (isSequence(sequence)) {
      const there = this.known.get(sequence);
      if (there && there.dataset.role === "user" && there.dataset.runId === event.run_id) return;
      if (there) {
        this.resync();
        return;
      }
    }
    if (run.user) return;
    run.user = textItem("user", event.content, { runId: event.run_id, at });
    if (event.queued) {
      setQueued(run.user, true);
      this.list.append(run.user); // queued inputs wait below everything else
    } else {
      this.add(run.user);
      this.place(run.user, sequence);
    }
  }

  runStarted(event, at) {
    this.currentRun = event.run_id;
    const run = this.run(event.run_id);
    if (!run.user) {
      // An input queued before this page opened: its entry is made now, its text read back.
      run.user = textItem("user", "(a queued message)", { runId: event.run_id, at });
      run.user.classList.add("pending");
      this.add(run.user);
      this.checkSoon();
    } else if (run.user.classList.contains("queued")) {
      this.unqueue(run.user); // its entry is numbered when the transcript is read back
    }
  }

  thinkingDone(event, at) {
    const thinking = thinkingOf(this.liveFor(event.run_id, at));
    thinking.node.data = event.text;
    thinking.summary.textContent = "Thought";
    thinking.details.open = false;
  }

  textDone(event, at) {
    const live = this.liveFor(event.run_id, at);
    live.node.data = event.text;
    const sequence = event.transcript_sequence;
    if (event.text && isSequence(sequence)) {
      this.place(live.li, sequence);
      this.renderReply(live.li, sequence);
    }
    this.endLive({ cut: event.cut ?? null });
  }

  toolStarted(event, at) {
    this.endLive();
    this.place(this.calls.started(event, at), event.transcript_sequence);
  }

  toolFinished(event, at) {
    this.place(this.calls.finished(event, at), event.transcript_sequence, "resultSequence");
  }

  runFinished(event) {
    const run = this.run(event.run_id);
    if (this.live?.runId === event.run_id) this.endLive({ cut: event.result });
    if (run.user?.classList.contains("queued")) {
      this.unqueue(run.user);
      run.user.dataset.dropped = "";
    }
    if (this.currentRun === event.run_id) this.currentRun = null;
    run.finished = true;
    this.settleTools();
    run.result = runResultItem(event);
    this.add(run.result);
    this.checkSoon();
  }

  workerStopped(event) {
    this.add(stoppedItem(event.reason));
    this.handlers.onStatus("stopped");
  }

  /** The run in flight at the snapshot: what it has said so far. */
  showRun(run) {
    if (!run.text && !run.thinking) return;
    const live = this.liveFor(run.run_id, null);
    if (run.thinking) thinkingOf(live).node.data = run.thinking;
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
    setQueued(li, false);
    this.add(li);
  }

  /** `li` shows the entry `sequence` (an event named it); nothing when none was named. */
  place(li, sequence, key = "sequence") {
    if (!isSequence(sequence)) return;
    li.dataset[key] = String(sequence);
    this.learn(sequence, li);
    this.total = Math.max(this.total, sequence);
  }

  /** The <li> drawn without a number for the transcript's `item`, now given it; or null. */
  adopt(item) {
    if (item.role === "user") {
      const li = this.runs.get(item.run_id)?.user;
      if (!li || li.dataset.sequence || li.classList.contains("queued")) return null;
      this.place(li, item.sequence);
      return li;
    }
    if (item.role === "tool" && item.tool) {
      const li = this.calls.get(item.tool.call_id);
      const key = item.tool.result ? "resultSequence" : "sequence";
      if (!li || li.dataset[key]) return null;
      this.place(li, item.sequence, key);
      return li;
    }
    const selector = `:scope > li.entry[data-role="${item.role}"]:not([data-sequence]):not([data-partial])`;
    const li = [...this.list.querySelectorAll(selector)].find(
      (candidate) => candidate.dataset.runId === item.run_id && !candidate.classList.contains("live"),
    );
    if (!li) return null;
    this.place(li, item.sequence);
    return li;
  }

  learn(sequence, li) {
    this.known.set(sequence, li);
    this.older.saw(sequence);
  }

  assistantName() {
    return this.assistantLabel || this.workerName || "Assistant";
  }

  liveFor(runId, at) {
    if (this.live?.runId === runId) return this.live;
    this.endLive();
    this.live = liveEntry(runId, at, this.assistantName());
    this.add(this.live.li);
    return this.live;
  }

  /** The streamed entry is complete (or, `cut`, its run ended before it was: how it ended). */
  endLive({ cut = null } = {}) {
    if (!this.live) return;
    endLiveEntry(this.live, cut);
    this.live = null;
  }

  settleTools() {
    settleCalls(this.list, this.currentRun);
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
    const { sequence, run_id: runId, at } = item;
    const li = textItem(item.role, item.content, {
      sequence,
      runId,
      at,
      assistant: this.assistantName(),
      html: item.html,
      cut: item.cut,
    });
    if (item.role === "user" && runId) this.run(runId).user = li;
    if (item.truncated) li.append(showAllButton(li, () => this.readEntry(sequence)));
    this.learn(item.sequence, li);
    return li;
  }

  /** A call and its result share one <li>; returns it only when it is new. */
  renderTool(item) {
    const { call_id: callId, name } = item.tool;
    const existing = this.calls.get(callId);
    const li = existing || this.calls.make(callId, name, item.run_id, item.at);
    showToolEntry(li, item, () => this.readEntry(item.sequence));
    this.learn(item.sequence, li);
    return existing ? null : li;
  }

  // -- reading the transcript back -------------------------------------------

  /** The transcript's entries from `start`, at most `limit` of them, replies rendered. */
  async readItems(start, limit) {
    const params = { start, limit, render: "html" };
    const { transcript } = await api.get(this.path("/transcript"), params);
    return transcript.items;
  }

  /** Show the rendered Markdown of the reply `li` (entry `sequence`) once it is read. */
  async renderReply(li, sequence) {
    const generation = this.generation;
    try {
      const item = await this.readEntry(sequence);
      if (generation === this.generation && item?.html !== undefined) showReply(li, item.html);
    } catch {
      // the reply stays plain text; reading the run back renders it
    }
  }

  /** The snapshot's tail carries no HTML: its replies are read once more, rendered. */
  async renderReplies(tail) {
    const replies = tail.filter((item) => item.role === "assistant");
    if (replies.length === 0) return;
    const generation = this.generation;
    const first = replies[0].sequence;
    const last = replies[replies.length - 1].sequence;
    try {
      const items = await this.readItems(first, last - first + 1);
      if (generation !== this.generation) return;
      for (const item of items) {
        const li = this.known.get(item.sequence);
        if (li && item.html !== undefined && item.role === "assistant") showReply(li, item.html);
      }
    } catch {
      // the replies stay plain text
    }
  }

  /** One entry, whole (undefined if there is none). */
  async readEntry(sequence) {
    return (await this.readItems(sequence, 1))[0];
  }

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
      let items;
      try {
        items = await this.readItems(this.checked + 1, CHECK_PAGE);
      } catch {
        return; // the end of the next run checks again
      }
      if (generation !== this.generation) return;
      const before = this.checked;
      for (const item of items) {
        if (item.sequence > this.total) break; // its event is still on the way
        const li = this.known.get(item.sequence) ?? this.adopt(item);
        if (!li || !sameEntry(li, item)) {
          this.resync();
          return;
        }
        if (item.role === "tool") fillInTool(li, item);
        else fillIn(li, item);
        this.checked = item.sequence;
      }
      if (this.checked === before) return;
    }
  }

  // -- older entries and scrolling -------------------------------------------

  /** Put older entries on top, keeping what the reader looks at where it is. */
  prepend(items) {
    const before = this.scroller.scrollHeight;
    this.list.prepend(this.renderItems(items));
    this.settleTools();
    this.scroller.scrollTop += this.scroller.scrollHeight - before;
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

function isSequence(value) {
  return Number.isInteger(value) && value > 0;
}
