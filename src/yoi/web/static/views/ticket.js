// One ticket in a drawer beside the board: what it says, its thread, and what can be done to it.
//
// The drawer is an `aside.drawer` (role="dialog") the board places and removes;
// it loads `GET /api/tickets/{id}?render=html` and shows the backend's rendered
// Markdown through `setRenderedHtml` (which strips, once more, anything that
// could run).
// What can be done comes from the API (`ticket.actions`): each action names
// its endpoint, its body (a move carries the state the ticket was seen in, so
// a ticket changed meanwhile is refused with `state_conflict` and shown
// afresh), the text it asks for, and whether it is blocked and by whom. The
// drawer renders those; it knows no lifecycle rule of its own.
import { api, ticketPath } from "../lib/api.js";
import { formDialog } from "../lib/dialog.js";
import { errorLine, formatTime, h, replace, setRenderedHtml } from "../lib/dom.js";

let drawers = 0;

/** "in_progress" → "in progress", for kinds and states shown to people. */
export function humanize(word) {
  return String(word ?? "").replaceAll("_", " ");
}

/** A link to a ticket's drawer on the board. */
export function ticketLink(ticketId) {
  return h("a", { href: `#/board/${encodeURIComponent(ticketId)}`, text: ticketId });
}

/**
 * Open the drawer of `ticketId`. `onClose()` is asked to close it (Escape is the
 * board's); `onChanged()` hears that this drawer changed the ticket; `extra`, if
 * given, is a section `{element, load()}` shown under the actions and loaded again
 * with the ticket. Returns `{element, ticketId, reload(), focus(), destroy()}`.
 */
export function openTicket(ticketId, { onClose, onChanged = () => {}, extra = null }) {
  const titleId = `drawer-title-${++drawers}`;
  const title = h("h2", { id: titleId, class: "drawer-title", tabindex: "-1", text: ticketId });
  const stateBadge = h("span", { class: "badge state-badge", dataset: { role: "state" } });
  const errors = h("div", { class: "drawer-errors", dataset: { role: "errors" } });
  const loading = h("p", { class: "empty", text: "Loading…" });
  const content = h("div", { class: "drawer-content" }, loading);
  const closeButton = h("button", {
    type: "button",
    class: "drawer-close",
    "aria-label": "Close drawer",
    title: "Close (Escape)",
    text: "✕",
    onclick: () => onClose(),
  });
  const element = h(
    "aside",
    { class: "drawer", role: "dialog", "aria-labelledby": titleId, dataset: { ticketId } },
    h(
      "header",
      { class: "drawer-head" },
      h(
        "div",
        { class: "drawer-line" },
        h("code", { class: "drawer-id", text: ticketId }),
        stateBadge,
      ),
      closeButton,
      title,
    ),
    errors,
    content,
  );
  const drawer = { element, ticketId, ticket: null, seq: 0, busy: false, destroyed: false };
  const composer = commentForm(drawer, () => changed());
  element.append(composer.element);

  function showError(error) {
    replace(errors, errorLine(error));
  }

  async function reload() {
    const mine = ++drawer.seq;
    try {
      const answer = await api.get(ticketPath(ticketId), { render: "html" });
      if (mine !== drawer.seq || drawer.destroyed) return;
      render(answer.ticket);
      extra?.load();
    } catch (error) {
      if (mine !== drawer.seq || drawer.destroyed) return;
      if (drawer.ticket === null) replace(content, errorLine(error));
      else showError(error);
    }
  }

  function render(ticket) {
    const focusKey = element.contains(document.activeElement)
      ? document.activeElement.closest("[data-focus-key]")?.dataset.focusKey
      : null;
    const scroll = element.scrollTop;
    drawer.ticket = ticket;
    title.textContent = ticket.meta.title;
    stateBadge.textContent = humanize(ticket.meta.state);
    stateBadge.dataset.state = ticket.meta.state;
    replace(content, ticketSections(ticket, [actionBar(ticket), extra?.element]));
    composer.offer((ticket.actions || []).find((action) => action.name === "comment"));
    element.scrollTop = scroll;
    if (focusKey && !element.contains(document.activeElement)) {
      const again = element.querySelector(`[data-focus-key="${CSS.escape(focusKey)}"]`);
      (again && !again.disabled ? again : title).focus();
    }
  }

  function changed() {
    onChanged();
    return reload();
  }

  /** Run one action: its errors show inline with their code (a stale state also reloads). */
  async function run(action, button) {
    if (drawer.busy) return;
    drawer.busy = true;
    replace(errors);
    setActionsDisabled(content, true);
    try {
      const done = await action();
      if (done !== null) await changed();
    } catch (error) {
      showError(error);
    } finally {
      drawer.busy = false;
      setActionsDisabled(content, false);
      if (!element.contains(document.activeElement)) {
        const again = button?.isConnected && !button.disabled ? button : title;
        again.focus();
      }
    }
  }

  function actionBar(ticket) {
    const bar = h("div", { class: "drawer-actions", role: "group", "aria-label": "Actions" });
    for (const action of ticket.actions || []) {
      if (action.name === "comment") continue; // the comment box below the drawer does it
      const button = h("button", {
        type: "button",
        class: action.emphasis || null,
        text: action.label,
        dataset: { action: action.name, focusKey: `action-${action.name}` },
      });
      button.addEventListener("click", () => run(() => perform(action, ticket, reload), button));
      const note = actionNote(action, button);
      bar.append(note ? h("span", { class: "action-with-note" }, button, note) : button);
    }
    return bar;
  }

  reload();
  return {
    element,
    ticketId,
    reload,
    focus: () => title.focus(),
    destroy() {
      drawer.destroyed = true;
      element.remove();
    },
  };
}

/**
 * Carry out `action` as the API describes it: ask for its text first when it
 * needs one. Resolves to null when the person cancelled. A stale state reloads.
 */
async function perform(action, ticket, reload) {
  const send = async (text) => {
    const body = { ...action.body };
    if (action.asks) body[action.asks.field] = text;
    try {
      return (await api.post(action.endpoint, body)) ?? {};
    } catch (error) {
      if (error?.code === "state_conflict") reload();
      throw error;
    }
  };
  if (!action.asks) return send(null);
  const { field, label, hint } = action.asks;
  return formDialog({
    title: `${action.label}: ${ticket.id}`,
    submitLabel: action.label,
    fields: [{ name: field, label, kind: "textarea", required: true, hint }],
    submit: async (values) => {
      const text = values[field].trim();
      if (!text) {
        const error = new Error(`the ${label.toLowerCase()} is required`);
        throw Object.assign(error, { code: "invalid_request" });
      }
      return send(text);
    },
  });
}

/** The note beside an action: who blocks it (the button is disabled), or whom it will wait for. */
function actionNote(action, button) {
  if (!action.reason) return null;
  const id = `action-note-${Math.random().toString(36).slice(2, 8)}`;
  const items = (action.blockers || []).map((blocker, index) => [
    index > 0 ? ", " : null,
    ticketLink(blocker.ticket_id),
    ` (${humanize(blocker.state)})`,
  ]);
  if (action.blocked) {
    button.disabled = true;
    button.dataset.blocked = "true";
  }
  button.setAttribute("aria-describedby", id);
  const role = `${action.name}-note`;
  return h("span", { id, class: "action-note", dataset: { role } }, `${action.lead} `, items);
}

function setActionsDisabled(root, disabled) {
  for (const button of root.querySelectorAll(".drawer-actions button")) {
    if (button.dataset.blocked === "true") continue;
    button.disabled = disabled;
  }
}

/**
 * The comment box: a textarea and its button, kept across reloads so a draft survives.
 * `offer(action)` shows it for the API's comment action (hidden without one).
 */
function commentForm(drawer, changed) {
  const id = `comment-${drawer.element.getAttribute("aria-labelledby")}`;
  const text = h("textarea", { id, name: "body", rows: 3, required: true });
  text.dataset.focusKey = "comment";
  const errors = h("div", { class: "comment-errors" });
  const button = h("button", { type: "submit", text: "Comment" });
  button.dataset.focusKey = "comment-send";
  const label = h("label", { for: id, text: "Add a comment" });
  let action = null;
  const form = h(
    "form",
    { class: "comment-form", hidden: true },
    label,
    text,
    errors,
    h(
      "div",
      { class: "comment-actions" },
      h("small", { class: "hint", text: "Ctrl+Enter sends" }),
      button,
    ),
  );
  text.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = text.value.trim();
    if (!body || button.disabled || !action) return;
    button.disabled = true;
    replace(errors);
    try {
      await api.post(action.endpoint, { ...action.body, [action.asks.field]: body });
      text.value = "";
      await changed();
    } catch (error) {
      replace(errors, errorLine(error));
    } finally {
      button.disabled = false;
    }
  });
  return {
    element: form,
    offer(offered) {
      action = offered ?? null;
      form.hidden = action === null;
      if (action) {
        label.textContent = action.asks.label;
        button.textContent = action.label;
      }
    },
  };
}

// -- what the ticket says ------------------------------------------------------

function ticketSections(ticket, actions) {
  const html = ticket.html || { body: "", events: [], resolution: null };
  const description = ticket.body.trim()
    ? rendered(html.body)
    : h("p", { class: "empty", text: "No description." });
  const resolution = html.resolution === null || html.resolution === undefined;
  return [
    metaList(ticket.meta),
    actions,
    section("Problems", "problems", list(ticket.problems, (problem) => problem)),
    section("Description", "body", description),
    section("Resolution", "resolution", !resolution && rendered(html.resolution)),
    section("Blockers", "blockers", list(ticket.blockers, blockerItem)),
    section("Notices", "notices", list(ticket.notices, (notice) => notice.message)),
    section("Relations", "relations", relationsList(ticket.relations)),
    section("Thread", "thread", timeline(ticket.events, html.events || [])),
    section("Plan records", "plans", list(ticket.plans, planItem)),
    section("Artifacts", "artifacts", list(ticket.artifacts, (name) => h("code", { text: name }))),
  ];
}

/** A titled part of the drawer; nothing at all when it has nothing to show. */
function section(heading, role, body) {
  if (!body) return null;
  const title = h("h3", { text: heading });
  return h("section", { class: "drawer-section", dataset: { role } }, title, body);
}

/** A list of `items` shown by `show`; null when there are none. */
function list(items, show) {
  if (!items || items.length === 0) return null;
  return h("ul", { class: "plain-list" }, items.map((item) => h("li", {}, show(item))));
}

function metaList(meta) {
  const rows = [
    ["Created", timeText(meta.created_at)],
    ["Updated", timeText(meta.updated_at)],
    meta.queued_by && [
      "Queued by",
      [meta.queued_by, meta.queued_at ? [" · ", timeText(meta.queued_at)] : null],
    ],
    meta.assignee && ["Assignee", meta.assignee],
    meta.priority && ["Priority", meta.priority],
    meta.readiness && ["Readiness", meta.readiness],
    meta.risk_flags?.length > 0 && [
      "Risk flags",
      meta.risk_flags.map((flag) => h("span", { class: "badge risk-flag", text: flag })),
    ],
  ].filter(Boolean);
  return h(
    "dl",
    { class: "meta" },
    rows.map(([name, value]) =>
      h("div", { class: "meta-row" }, h("dt", { text: name }), h("dd", {}, value)),
    ),
  );
}

function timeText(iso) {
  return h("time", { datetime: iso, title: iso, text: formatTime(iso) });
}

function blockerItem(blocker) {
  return [
    ticketLink(blocker.ticket_id),
    " ",
    h("span", {
      class: "badge state-badge",
      dataset: { state: blocker.state },
      text: humanize(blocker.state),
    }),
    h("span", { class: "hint", text: ` via ${humanize(blocker.via)}` }),
  ];
}

function relationsList({ outgoing, incoming }) {
  if (outgoing.length === 0 && incoming.length === 0) return null;
  const note = (text) => (text ? h("span", { class: "hint", text: ` — ${text}` }) : null);
  return h(
    "ul",
    { class: "plain-list relations" },
    outgoing.map((relation) =>
      h(
        "li",
        { dataset: { direction: "outgoing" } },
        `${humanize(relation.kind)} → `,
        ticketLink(relation.target),
        note(relation.note),
      ),
    ),
    incoming.map((inverse) =>
      h(
        "li",
        { dataset: { direction: "incoming" } },
        `${humanize(inverse.kind)} ← `,
        ticketLink(inverse.ticket_id),
        note(inverse.note),
      ),
    ),
  );
}

function planItem(record) {
  return [
    h("span", { class: "badge", text: humanize(record.kind) }),
    record.related_ticket ? [" ", ticketLink(record.related_ticket)] : null,
    record.note ? h("span", { text: ` ${record.note}` }) : null,
    h("span", { class: "hint" }, ` — ${record.author}, `, timeText(record.at)),
  ];
}

function timeline(events, renderedEvents) {
  if (events.length === 0) return h("p", { class: "empty", text: "No events yet." });
  return h(
    "ol",
    { class: "timeline" },
    events.map((event, index) =>
      h(
        "li",
        { dataset: { kind: event.kind } },
        h(
          "div",
          { class: "event-head" },
          h("span", { class: "badge event-kind", text: humanize(event.kind) }),
          h("span", { class: "event-author", text: event.author }),
          timeText(event.at),
        ),
        event.heading ? h("h4", { class: "event-heading", text: event.heading }) : null,
        renderedEvents[index] === undefined
          ? h("p", { text: event.body })
          : rendered(renderedEvents[index]),
      ),
    ),
  );
}

/** The backend's rendered Markdown. */
function rendered(html) {
  return setRenderedHtml(h("div", { class: "rendered" }), html || "");
}
