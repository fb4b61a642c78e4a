// The Companion panel: a chat with the workspace's own assistant, reachable from every view.
//
// The Companion is a worker (`context.workspace.companion`) like any other:
// its transcript streams here and messages go to `/api/companion/messages`.
// A message whose run shows no sign of a reply (thinking, text, a tool call,
// its end) within REPLY_TIMEOUT_MS gets a `reply_timeout` notice, which goes
// away when the reply comes after all.
import { api } from "../lib/api.js";
import { errorLine, h, replace } from "../lib/dom.js";
import { createComposer } from "./composer.js";
import { createTranscript } from "./transcript.js";

export const REPLY_TIMEOUT_MS = 60_000;
const QUIET_EVENTS = new Set(["input_accepted", "run_started", "status", "usage"]);
const REMEMBERED_RUNS = 200;

export function mount(aside, context, { close }) {
  const badge = h("span", {
    class: "badge",
    dataset: { role: "worker-status", status: "unknown" },
  });
  const closeButton = h("button", {
    type: "button",
    class: "companion-close",
    "aria-label": "Close the Companion",
    title: "Close (Escape)",
    text: "✕",
    onclick: () => close(),
  });
  const banner = h(
    "p",
    { class: "offline-banner", dataset: { role: "offline-banner" }, role: "note", hidden: true },
    "The offline scripted model is answering: configure a model (set ",
    h("code", { text: "OPENAI_API_KEY" }),
    " or ",
    h("code", { text: "ANTHROPIC_API_KEY" }),
    ", or start ",
    h("code", { text: "yoi serve --model provider:model" }),
    ") to talk to a real one.",
  );
  const model = h("p", { class: "companion-model", hidden: true });
  const notices = h("div", { class: "companion-notices", "aria-live": "polite" });
  const body = h("div", { class: "companion-body" });
  const waiting = new Map(); // run id -> timer, for messages with no sign of a reply yet
  const lively = new Set(); // run ids that showed signs of life
  let transcript = null;

  const composer = createComposer({
    label: "Message to the Companion",
    placeholder: "Ask the Companion…",
    send: async (content, onBusy) => {
      replace(notices);
      const { ack } = await api.post("/api/companion/messages", { content, on_busy: onBusy });
      awaitReply(ack.run_id);
    },
  });

  const panel = h(
    "div",
    { class: "companion-panel" },
    h(
      "header",
      { class: "companion-head" },
      h("h2", { id: "companion-title", text: "Companion" }),
      badge,
      closeButton,
    ),
    banner,
    model,
    body,
    notices,
    composer.element,
  );
  aside.setAttribute("aria-labelledby", "companion-title");
  aside.addEventListener("keydown", onKeydown);
  replace(aside, panel);

  const known = context.workspace?.companion;
  if (known) begin(known.runtime_id, known.worker_id);
  describe();

  function onKeydown(event) {
    if (event.key === "Escape" && !event.defaultPrevented) {
      event.preventDefault();
      close();
    }
  }

  async function describe() {
    try {
      const { companion } = await api.get("/api/companion");
      banner.hidden = !companion.offline;
      model.hidden = !companion.model;
      const label = companion.offline ? "offline scripted model" : companion.model;
      model.textContent = `Model: ${label}`;
      showStatus(companion.status);
      if (!transcript) begin(companion.runtime_id, companion.worker_id);
    } catch (error) {
      replace(notices, errorLine(error));
    }
  }

  function begin(runtimeId, workerId) {
    transcript = createTranscript({
      runtimeId,
      workerId,
      assistantLabel: "Companion",
      onStatus: showStatus,
      onEvent: noticeLife,
    });
    replace(body, transcript.element);
    transcript.start();
  }

  function showStatus(status) {
    if (!status) return;
    badge.dataset.status = status;
    badge.textContent = status;
    composer.setBusy(status === "running");
    composer.setDisabled(status === "stopped", "The Companion is stopped.");
  }

  /** Wait for a sign of the reply; if none comes in time, say so. */
  function awaitReply(runId) {
    if (!runId || lively.has(runId) || waiting.has(runId)) return;
    const timer = setTimeout(() => {
      waiting.delete(runId);
      const notice = errorLine({
        code: "reply_timeout",
        message:
          `No reply after ${REPLY_TIMEOUT_MS / 1000} s: the model may be slow or ` +
          "unreachable. The reply shows here if it comes.",
      });
      notice.dataset.runId = runId;
      notices.append(notice);
    }, REPLY_TIMEOUT_MS);
    waiting.set(runId, timer);
  }

  function noticeLife(frame) {
    const { type, run_id: runId } = frame.event;
    if (!runId || QUIET_EVENTS.has(type)) return;
    lively.add(runId);
    if (lively.size > REMEMBERED_RUNS) lively.delete(lively.values().next().value);
    clearTimeout(waiting.get(runId));
    waiting.delete(runId);
    for (const notice of notices.querySelectorAll('.error-line[data-code="reply_timeout"]')) {
      if (notice.dataset.runId === runId) notice.remove();
    }
  }

  return {
    focus() {
      composer.focus();
      transcript?.follow();
    },
    unmount() {
      aside.removeEventListener("keydown", onKeydown);
      transcript?.close();
      for (const timer of waiting.values()) clearTimeout(timer);
      waiting.clear();
    },
  };
}
