// A tool call in a transcript: its name, arguments, state and result.
//
// A call is drawn from its events while it runs (`tool_call_started`,
// `tool_call_finished`) and from its two transcript entries when read back;
// both go through the same setters, so a call looks the same either way.
// What a model or a tool wrote goes in as text, never as markup. Long texts
// show their first lines, with a button for the rest; no text is shown past
// MAX_SHOWN characters (the entry says how many more there were).
import { errorLine, h } from "../lib/dom.js";
import { Approvals } from "./approval.js";
import { entryItem } from "./entries.js";

const PREVIEW_LINES = 10;
const PREVIEW_CHARS = 800;
const MAX_SHOWN = 100_000;
const STATE_TEXT = { running: "running…", done: "done", error: "failed" };

/**
 * The tool calls drawn in one transcript, by call id, with their pending approvals.
 * `add(li)` puts a call's new entry at the end of the conversation;
 * `decide(approvalId, decision)` sends a person's decision on an approval.
 */
export class ToolCalls {
  constructor({ add, decide }) {
    this.add = add;
    this.calls = new Map();
    this.approvals = new Approvals(decide);
  }

  reset() {
    this.calls.clear();
    this.approvals.reset();
  }

  get(callId) {
    return this.calls.get(callId);
  }

  /** A call's entry, kept so its result finds it; the caller puts it in place. */
  make(callId, name, runId, at) {
    const li = toolItem(callId, name, { runId, at });
    this.calls.set(callId, li);
    return li;
  }

  /** The call's entry; made at the end of the conversation when nothing drew it yet. */
  entry(callId, name, runId, at) {
    if (this.calls.has(callId)) return this.calls.get(callId);
    const li = this.make(callId, name, runId, at);
    this.add(li);
    return li;
  }

  /** A `tool_call_started` event; returns the call's entry. */
  started(event, at) {
    const li = this.entry(event.call_id, event.name, event.run_id, at);
    setToolArguments(li, event.arguments);
    return li;
  }

  /** A `tool_call_finished` event; returns the call's entry. */
  finished(event, at) {
    const li = this.entry(event.call_id, event.name, event.run_id, at);
    const { is_error: isError, summary, truncated } = event;
    setToolResult(li, { isError, summary, truncated });
    return li;
  }

  /** A pending approval, at its call (drawn from the approval when nothing drew the call). */
  approval(approval, at) {
    if (this.approvals.has(approval.approval_id)) return;
    const known = this.calls.has(approval.call_id);
    const li = this.entry(approval.call_id, approval.tool, approval.run_id, at);
    if (!known) setToolArguments(li, approval.arguments);
    this.approvals.show(approval, li);
  }

  /** An `approval_resolved` event. */
  resolved(event) {
    this.approvals.resolve(event);
  }
}

/** A tool call, running until `setToolResult`; pending approvals go in its `.tool-approvals`. */
export function toolItem(callId, name, { runId, at }) {
  const li = entryItem("tool", { runId, at });
  li.dataset.callId = callId;
  li.append(
    h(
      "div",
      { class: "tool-call", dataset: { callId, state: "running" } },
      h(
        "div",
        { class: "tool-head" },
        h("code", { class: "tool-name", text: name }),
        h("span", { class: "tool-state", text: STATE_TEXT.running }),
        h("span", { class: "tool-truncated", text: "output truncated", hidden: true }),
      ),
      h("div", { class: "tool-arguments", hidden: true }),
      h("div", { class: "tool-approvals" }),
      h("p", { class: "tool-summary", hidden: true }),
    ),
  );
  return li;
}

/**
 * A tool entry read from the transcript: the call's arguments, or its result. A snapshot
 * may have cut the entry's text (`truncated`): `readWhole()` then gets the whole entry.
 */
export function showToolEntry(li, item, readWhole = null) {
  if (item.tool.result) {
    li.dataset.resultSequence = String(item.sequence);
    setToolResult(li, resultOf(item));
  } else {
    li.dataset.sequence = String(item.sequence);
    setToolArguments(li, item.content);
  }
  const part = item.tool.result ? "output" : "arguments";
  li.querySelector(`.tool-read-whole[data-part="${part}"]`)?.remove();
  if (item.truncated && readWhole) {
    li.querySelector(".tool-call").append(readWholeButton(li, part, readWhole));
  }
}

/** What the transcript says of a call that its events did not: its output. */
export function fillInTool(li, item) {
  if (item.tool?.result) setToolResult(li, resultOf(item));
}

/** The call's arguments as the model wrote them: pretty JSON when they are JSON. */
export function setToolArguments(li, raw) {
  const box = li.querySelector(".tool-arguments");
  const text = prettyJson(raw);
  box.hidden = text === "";
  box.replaceChildren(...(text === "" ? [] : boundedText(text, "arguments")));
}

/**
 * The call has ended: its state, its summary, whether the runtime cut its output
 * (`truncated`) and, when it says more than the summary, the output itself.
 */
export function setToolResult(li, { isError, summary, truncated = false, output = null }) {
  const call = li.querySelector(".tool-call");
  const state = isError ? "error" : "done";
  call.dataset.state = state;
  call.querySelector(".tool-state").textContent = STATE_TEXT[state];
  if (truncated) {
    call.dataset.truncated = "";
    call.querySelector(".tool-truncated").hidden = false;
  }
  const line = call.querySelector(".tool-summary");
  if (summary) {
    line.textContent = summary;
    line.hidden = false;
  }
  if (output === null || output === undefined || output === "" || output === summary) return;
  let details = call.querySelector(".tool-output");
  if (!details) {
    const box = h("div", { class: "tool-text-box" });
    details = h("details", { class: "tool-output" }, h("summary"), box);
    call.append(details);
  }
  details.querySelector("summary").textContent = `Output (${sizeText(output)})`;
  details.querySelector(".tool-text-box").replaceChildren(...boundedText(output, "output"));
}

/** Calls in `list` left running by a run that has ended (not `currentRun`) get no result. */
export function settleCalls(list, currentRun) {
  for (const call of list.querySelectorAll('.tool-call[data-state="running"]')) {
    const li = call.closest("li");
    if (li.dataset.runId === currentRun) continue;
    setToolResult(li, { isError: true, summary: "no result: the run ended before this call did" });
  }
}

/** The call as its result entry says it ended. */
function resultOf(item) {
  const { is_error: isError, summary, truncated = false } = item.tool;
  return { isError, summary, truncated, output: item.content };
}

/**
 * A text as a <pre>: its first lines, and a button that shows the rest (up to MAX_SHOWN
 * characters) and back. Returns the nodes to put in a box.
 */
function boundedText(text, part) {
  const shown = text.length > MAX_SHOWN ? text.slice(0, MAX_SHOWN) : text;
  const preview = previewOf(shown);
  const pre = h("pre", { class: "tool-text", dataset: { part }, text: preview });
  if (preview === shown) return [pre];
  pre.dataset.collapsed = "";
  const more = text.length - shown.length;
  const rest = more > 0 ? `\n[… ${more.toLocaleString()} more characters not shown]` : "";
  const label = `Show all ${part} (${sizeText(text)})`;
  const button = h("button", {
    type: "button",
    class: "tool-expand",
    "aria-expanded": "false",
    text: label,
    onclick: () => {
      const open = pre.dataset.collapsed !== undefined;
      pre.textContent = open ? shown + rest : preview;
      pre.toggleAttribute("data-collapsed", !open);
      button.setAttribute("aria-expanded", String(open));
      button.textContent = open ? `Show less ${part}` : label;
    },
  });
  return [pre, button];
}

/** The first PREVIEW_LINES lines of `text`, at most PREVIEW_CHARS characters, marked if cut. */
function previewOf(text) {
  const end = Math.min(text.length, PREVIEW_CHARS);
  let newline = -1;
  for (let line = 0; line < PREVIEW_LINES; line += 1) {
    newline = text.indexOf("\n", newline + 1);
    if (newline === -1 || newline >= end) return cutAt(text, end);
  }
  return cutAt(text, newline);
}

function cutAt(text, end) {
  return end >= text.length ? text : `${text.slice(0, end)} …`;
}

function sizeText(text) {
  const lines = text.split("\n").length;
  const chars = `${text.length.toLocaleString()} character${text.length === 1 ? "" : "s"}`;
  return lines > 1 ? `${lines.toLocaleString()} lines, ${chars}` : chars;
}

/** A button that reads a cut entry whole and shows it in place of the cut text. */
function readWholeButton(li, part, readWhole) {
  const button = h("button", {
    type: "button",
    class: "tool-read-whole",
    dataset: { part },
    text: `Read the whole ${part}`,
    onclick: async () => {
      button.disabled = true;
      try {
        const whole = await readWhole();
        if (whole?.tool) showToolEntry(li, whole);
        button.remove();
      } catch (error) {
        button.replaceWith(errorLine(error));
      }
    },
  });
  return button;
}

/** `raw` (text, or a value an approval carried) as pretty JSON; as it is when it is not JSON. */
function prettyJson(raw) {
  if (raw === null || raw === undefined) return "";
  const text = typeof raw === "string" ? raw : JSON.stringify(raw);
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}
