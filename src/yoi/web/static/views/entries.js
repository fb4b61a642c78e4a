// A transcript's entries as list items: who said what, and the lines a run or a
// worker leaves at its end (a tool call is drawn by views/tool_call.js).
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

/** What the transcript says that the events did not (a tool call's: `fillInTool`). */
export function fillIn(li, item) {
  if (li.classList.contains("pending")) {
    li.classList.remove("pending");
    li.querySelector(".entry-text").textContent = item.content;
  }
  if (item.role === "assistant" && !li.querySelector(".entry-text.rendered")) {
    showReply(li, item.html);
  }
  if (item.cut) markCut(li, item.cut);
}

function addNote(li, text) {
  li.querySelector(".entry-head").append(h("span", { class: "entry-note", text }));
}
