// The message box under a transcript: Enter sends, Shift+Enter starts a new line.
//
// While the worker runs, a new message follows the "When busy" choice: reject
// it (the backend answers 409 `worker_busy`), queue it after the current run,
// or interrupt the run. The text stays in the box until the input is accepted.
import { errorLine, h, replace } from "../lib/dom.js";

const POLICIES = [
  { value: "reject", label: "Reject" },
  { value: "enqueue", label: "Queue" },
  { value: "interrupt", label: "Interrupt" },
];

let counter = 0;

/**
 * `send(content, onBusy)` posts the message and resolves once it is accepted
 * (or rejects with an ApiError, shown under the box with its code).
 * Returns `{element, setBusy(on), setDisabled(on, why), setLabel(label), focus()}`.
 */
export function createComposer({ label, send, busy = false, placeholder = "Write a message…" }) {
  counter += 1;
  const policyId = `composer-policy-${counter}`;
  const textarea = h("textarea", {
    class: "composer-input",
    name: "content",
    rows: 2,
    "aria-label": label,
    placeholder,
  });
  const policy = h(
    "select",
    { id: policyId, name: "on_busy", class: "composer-policy" },
    POLICIES.map((item) => h("option", { value: item.value, text: item.label })),
  );
  const busyNote = h("span", {
    class: "composer-busy",
    dataset: { role: "busy" },
    role: "status",
    text: "working…",
    hidden: !busy,
  });
  const sendButton = h("button", { type: "submit", class: "primary", text: "Send" });
  const disabledNote = h("p", { class: "composer-disabled", hidden: true });
  const errors = h("div", { class: "composer-errors" });
  let sending = false;

  async function submit(event) {
    event.preventDefault();
    const content = textarea.value;
    if (sending || textarea.disabled || !content.trim()) return;
    sending = true;
    sendButton.disabled = true;
    replace(errors);
    try {
      await send(content, policy.value);
      if (textarea.value === content) textarea.value = "";
    } catch (error) {
      replace(errors, errorLine(error));
    } finally {
      sending = false;
      sendButton.disabled = textarea.disabled;
    }
  }

  const form = h(
    "form",
    { class: "composer", onsubmit: submit },
    textarea,
    h(
      "div",
      { class: "composer-row" },
      h("label", { for: policyId, text: "When busy" }),
      policy,
      busyNote,
      sendButton,
    ),
    disabledNote,
    errors,
  );
  textarea.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });

  return {
    element: form,
    setBusy(on) {
      busyNote.hidden = !on;
      form.classList.toggle("busy", Boolean(on));
    },
    setDisabled(on, why = "") {
      textarea.disabled = Boolean(on);
      policy.disabled = Boolean(on);
      sendButton.disabled = Boolean(on) || sending;
      disabledNote.hidden = !on || !why;
      disabledNote.textContent = on ? why : "";
    },
    setLabel(text) {
      textarea.setAttribute("aria-label", text);
    },
    focus() {
      textarea.focus();
    },
  };
}
