// Modal forms on <dialog>: keyboard first (focus moves in, Escape cancels, Enter submits).
import { errorLine, h, replace } from "./dom.js";

/**
 * Show a modal form and wait for it.
 *
 * `fields` is a list of `{name, label, kind: "text" | "textarea" | "select" | "checkbox" |
 * "checklist", value, options: [{value, label}], required, placeholder, hint}`.
 * A field may also have `hintFor(value)`, a hint that follows its value, and a
 * checklist `optionsFor(values)`, its options as the other fields now are (its
 * value is the list of checked option values; `empty` says why there are none).
 * `submit(values)` is called on submit; it may throw (an ApiError is shown in the
 * dialog with its code, and the dialog stays open) or return a value, which the
 * returned promise resolves to. Cancel resolves to null.
 */
export function formDialog({ title, fields, submitLabel = "Save", submit, describe = null }) {
  return new Promise((resolve) => {
    const dialog = h("dialog", { class: "form-dialog", "aria-label": title });
    const errors = h("div", { class: "dialog-errors" });
    const inputs = {};
    const hints = {};
    const rows = fields.map((field) => {
      const id = `field-${field.name}-${Math.random().toString(36).slice(2, 8)}`;
      const input = control(field, id);
      inputs[field.name] = input;
      const hint = h("small", { class: "hint", text: field.hint || "", hidden: !field.hint });
      hints[field.name] = hint;
      if (field.kind === "checklist") {
        return h("fieldset", { class: "field field-list", id }, h("legend", { text: field.label }), input, hint);
      }
      const label = h("label", { for: id, text: field.label });
      return field.kind === "checkbox"
        ? h("div", { class: "field field-check" }, input, label, hint)
        : h("div", { class: "field" }, label, input, hint);
    });
    const submitButton = h("button", { type: "submit", class: "primary", text: submitLabel });
    const cancel = h("button", { type: "button", text: "Cancel", onclick: () => finish(null) });
    const form = h(
      "form",
      { method: "dialog", onsubmit: (event) => onSubmit(event) },
      h("h2", { text: title }),
      describe ? h("p", { class: "dialog-description" }, describe) : null,
      rows,
      errors,
      h("div", { class: "dialog-actions" }, cancel, submitButton),
    );
    dialog.append(form);
    form.addEventListener("change", () => follow());
    follow();
    dialog.addEventListener("cancel", (event) => {
      event.preventDefault();
      finish(null);
    });
    // Enter in a textarea submits with Ctrl or Cmd; a plain Enter makes a new line.
    form.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        form.requestSubmit();
      }
    });

    let done = false;
    function finish(value) {
      if (done) return;
      done = true;
      dialog.close();
      dialog.remove();
      resolve(value);
    }

    function current() {
      const values = {};
      for (const field of fields) values[field.name] = valueOf(field, inputs[field.name]);
      return values;
    }

    /** Hints that follow a value, and checklists whose options follow the other fields. */
    function follow() {
      const values = current();
      for (const field of fields) {
        if (field.optionsFor) {
          fillChecklist(inputs[field.name], field, field.optionsFor(values), values[field.name]);
        }
        if (field.hintFor) {
          const text = field.hintFor(values[field.name]) || field.hint || "";
          hints[field.name].textContent = text;
          hints[field.name].hidden = !text;
        }
      }
    }

    async function onSubmit(event) {
      event.preventDefault();
      const values = current();
      submitButton.disabled = true;
      replace(errors);
      try {
        finish(await submit(values));
      } catch (error) {
        replace(errors, errorLine(error));
      } finally {
        submitButton.disabled = false;
      }
    }

    document.body.append(dialog);
    dialog.showModal();
    const first = form.querySelector("input, textarea, select");
    if (first) first.focus();
  });
}

function valueOf(field, input) {
  if (field.kind === "checkbox") return input.checked;
  if (field.kind === "checklist") {
    return [...input.querySelectorAll("input:checked")].map((box) => box.value);
  }
  return input.value;
}

/** Put `options` in a checklist, keeping what was checked and is still offered. */
function fillChecklist(list, field, options, checked) {
  const kept = new Set(checked);
  const boxes = options.map((option) => {
    const id = `${list.id}-${option.value}`;
    const box = h("input", { id, type: "checkbox", value: option.value, checked: kept.has(option.value) });
    return h("div", { class: "field-check" }, box, h("label", { for: id, text: option.label }));
  });
  const empty = h("p", { class: "empty", text: field.empty || "None." });
  list.replaceChildren(...(boxes.length ? boxes : [empty]));
}

function control(field, id) {
  const common = {
    id,
    name: field.name,
    required: field.required || false,
    placeholder: field.placeholder || null,
  };
  if (field.kind === "textarea") {
    return h("textarea", { ...common, rows: field.rows || 5, text: field.value || "" });
  }
  if (field.kind === "select") {
    return h(
      "select",
      common,
      (field.options || []).map((option) =>
        h("option", { value: option.value, selected: option.value === field.value, text: option.label }),
      ),
    );
  }
  if (field.kind === "checkbox") {
    return h("input", { ...common, type: "checkbox", checked: Boolean(field.value) });
  }
  if (field.kind === "checklist") {
    const list = h("div", { class: "checklist", id: `${id}-list` });
    fillChecklist(list, field, field.options || [], field.value || []);
    return list;
  }
  return h("input", { ...common, type: "text", value: field.value || "", autocomplete: "off" });
}
