// A transcript's entries as list items: who said what, a tool call with its
// result, and the lines a run or a worker leaves at its end.
//
// Pure DOM: these functions build and change <li> elements. Where an entry
// goes and which sequence it has is the business of views/transcript.js.
import { errorLine, formatTime, h, setRenderedHtml } from "../lib/dom.js";

const ROLE_LABEL = { user: "You", tool: "Tool", system: "System" };
const RESULT_TEXT = {
  completed: "Run completed",
  cancelled: "Run cancelled",
  failed: "Run failed",
  limit_reached: "Run stopped at its turn limit",
};

/** An empty entry: its head (who, when). `assistant` names who the assistant is. */
export function entryItem(role, options = {}) {
  const { assistant = "Assistant", sequence = null, runId = null, at = null } = options;
  const who = role === "assistant" ? assistant : ROLE_LABEL[role] || role;
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

/**
 * An entry that says `content` (options as for `entryItem`, `html`: a reply rendered, and
 * `cut`: the entry's `cut`, how a run that ended before this reply was done ended).
 */
export function textItem(role, content, options = {}) {
  const li = entryItem(role, options);
  li.append(h("div", { class: "entry-text", text: content }));
  if (role === "assistant" && typeof options.html === "string") showReply(li, options.html);
  if (options.cut) markCut(li, options.cut);
  return li;
}

/** Show a reply as the backend rendered its Markdown, in place of its plain text. */
export function showReply(li, html) {
  const text = li.querySelector(".entry-text");
  if (!html || li.classList.contains("live")) return;
  setRenderedHtml(text, html.trim());
  text.classList.add("rendered");
}

/** A tool call, still running: its result is set by `setToolResult`. */
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
        h("span", { class: "tool-state", text: "running…" }),
      ),
      h("pre", { class: "tool-arguments" }),
      h("p", { class: "tool-summary", hidden: true }),
    ),
  );
  return li;
}

/** A tool entry read from the transcript: the call's arguments, or its result. */
export function showToolEntry(li, item) {
  if (item.tool.result) {
    li.dataset.resultSequence = String(item.sequence);
    setToolResult(li, resultOf(item));
  } else {
    li.dataset.sequence = String(item.sequence);
    setToolArguments(li, item.content);
  }
}

export function setToolArguments(li, raw) {
  li.querySelector(".tool-arguments").textContent = prettyJson(raw);
}

/** The call has ended: its state, its summary and (if it says more) its output. */
export function setToolResult(li, { isError, summary, output = null }) {
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

/**
 * The assistant entry being streamed: `{runId, li, node, thinking}`, where
 * `node` is the text node the text goes into and `thinking` comes with `thinkingOf`.
 */
export function liveEntry(runId, at, assistant) {
  const li = entryItem("assistant", { runId, at, assistant });
  li.classList.add("live");
  const node = document.createTextNode("");
  li.append(h("div", { class: "entry-text" }, node));
  return { runId, li, node, thinking: null };
}

/** The live entry's thinking (`{details, summary, node}`), made on first use. */
export function thinkingOf(live) {
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

/**
 * The live entry is complete; or, `cut` (how its run ended: "cancelled", "failed", ...), the
 * run ended before it was, and what it said so far stays, marked. Empty, it goes.
 */
export function endLiveEntry(live, cut) {
  live.li.classList.remove("live");
  if (!live.node.data && !live.thinking) live.li.remove();
  else if (cut && live.node.data) markCut(live.li, cut);
}

/** Mark a reply its run cut short (`cut`: how the run ended), once. */
function markCut(li, cut) {
  if (li.dataset.partial) return;
  li.dataset.partial = cut;
  addNote(li, cut === "cancelled" ? "cancelled" : "cut off");
}

/** Mark a user entry as waiting for its run, or no longer. */
export function setQueued(li, queued) {
  li.classList.toggle("queued", queued);
  if (queued) addNote(li, "queued");
  else li.querySelector(".entry-note")?.remove();
}

/** A button that replaces a shortened entry's text by the whole, got from `readWhole()`. */
export function showAllButton(li, readWhole) {
  const button = h("button", {
    type: "button",
    class: "show-all",
    text: "Show the whole entry",
    onclick: async () => {
      try {
        const whole = await readWhole();
        if (whole && whole.role === "assistant" && whole.html) showReply(li, whole.html);
        else if (whole) li.querySelector(".entry-text").textContent = whole.content;
        button.remove();
      } catch (error) {
        button.replaceWith(errorLine(error));
      }
    },
  });
  return button;
}

/** The line a `run_finished` event leaves: how the run ended, and its error. */
export function runResultItem(event) {
  return h(
    "li",
    { class: "run-result", dataset: { result: event.result, runId: event.run_id } },
    h("span", { class: "run-result-text", text: RESULT_TEXT[event.result] || event.result }),
    event.error ? errorLine(event.error) : null,
  );
}

export function stoppedItem(reason) {
  const text = `Worker stopped${reason ? `: ${reason}` : ""}`;
  return h("li", { class: "notice", dataset: { kind: "stopped" }, text });
}

export function errorItem(error) {
  return h("li", { class: "event-error" }, errorLine(error));
}

/** Whether the <li> drawn for a sequence shows the transcript's `item`. */
export function sameEntry(li, item) {
  if (li.dataset.role !== item.role) return false;
  if (item.run_id && li.dataset.runId && li.dataset.runId !== item.run_id) return false;
  if (item.role === "tool") return li.dataset.callId === item.tool?.call_id;
  return true;
}

/** What the transcript says that the events did not. */
export function fillIn(li, item) {
  if (li.classList.contains("pending")) {
    li.classList.remove("pending");
    li.querySelector(".entry-text").textContent = item.content;
  }
  if (item.role === "assistant" && !li.querySelector(".entry-text.rendered")) {
    showReply(li, item.html);
  }
  if (item.cut) markCut(li, item.cut);
  if (item.role === "tool" && item.tool?.result) setToolResult(li, resultOf(item));
}

function resultOf(item) {
  return { isError: item.tool.is_error, summary: item.tool.summary, output: item.content };
}

function addNote(li, text) {
  li.querySelector(".entry-head").append(h("span", { class: "entry-note", text }));
}

function prettyJson(raw) {
  try {
    return JSON.stringify(JSON.parse(raw), null, 2);
  } catch {
    return String(raw ?? "");
  }
}
