// The message box under a transcript: Enter sends, Shift+Enter starts a new line.
//
// While the worker runs, a new message follows the "When busy" choice (the
// API's `on_busy`): queue it after the current reply (the default), interrupt
// the reply, or refuse it (the backend answers 409 `worker_busy`). Send stays
// enabled, and the line beside it says what sending now will do. A refusal is
// told in the control's words and goes once the run ends. The text stays in
// the box until the input is accepted.
import { errorLine, h, replace } from "../lib/dom.js";

const POLICIES = [
  { value: "enqueue", label: "Queue", busy: "replying… a message sent now waits its turn" },
  { value: "interrupt", label: "Interrupt", busy: "replying… a message sent now stops the reply" },
  { value: "reject", label: "Refuse", busy: "replying… a message sent now is refused" },
];
const DEFAULT_POLICY = "enqueue";

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
    POLICIES.map((item) =>
      h("option", { value: item.value, text: item.label, selected: item.value === DEFAULT_POLICY }),
    ),
  );
  const busyNote = h("span", {
    class: "composer-busy",
    dataset: { role: "busy" },
    role: "status",
    hidden: !busy,
  });
  const chosen = () => POLICIES.find((item) => item.value === policy.value) ?? POLICIES[0];
  const sayBusy = () => {
    busyNote.textContent = chosen().busy;
  };
  policy.addEventListener("change", sayBusy);
  sayBusy();
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
      replace(errors, errorLine(inControlWords(error)));
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
      if (!on) errors.querySelector('.error-line[data-code="worker_busy"]')?.remove();
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

/** A busy refusal names the API's `on_busy` values; say it with the control's words. */
function inControlWords(error) {
  if (error?.code !== "worker_busy" || error.details?.queued !== undefined) return error;
  const [queue, interrupt, refuse] = POLICIES;
  const message =
    `still replying, so the message was refused (When busy: ${refuse.label}); ` +
    `choose ${queue.label} or ${interrupt.label} to send it now, or wait for the reply`;
  return { code: error.code, message };
}
