// A run parked at a gate (`runs[].gate` of `GET /api/orchestrator` is not null): what it
// waits for, the dossier a person decides on, and Approve / Reject, which post to
// `POST /api/orchestrator/runs/{id}/gate`. The backend parks and releases runs; a gate
// shown here is one the backend reported, and its answer (or refusal) is the backend's.
import { api } from "../lib/api.js";
import { formDialog } from "../lib/dialog.js";
import { formatTime, h, setRenderedHtml } from "../lib/dom.js";
import { humanize } from "./ticket.js";

/** "awaiting plan approval": the run's reason, as the backend names the wait. */
export function gateText(run) {
  return humanize(run.reason || `awaiting_${run.gate.gate}_approval`);
}

/** The badge that says a run waits for a person's approval. */
export function gateBadge(run) {
  if (!run.gate) return null;
  return h("span", {
    class: "badge gate-badge",
    dataset: { role: "gate", gate: run.gate.gate },
    text: gateText(run),
  });
}

/** Approve and Reject for the run's open gate; `act(send, button)` runs a button's request. */
export function gateButtons(run, act) {
  if (!run.gate) return [];
  const gate = run.gate.gate;
  const path = `/api/orchestrator/runs/${encodeURIComponent(run.ticket_id)}/gate`;
  const decide = (decision, note = null) => api.post(path, { gate, decision, note, by: null });
  const approve = h("button", {
    type: "button",
    class: "run-action primary",
    dataset: { action: "approve", gate },
    "aria-label": `Approve ${gate} of ${run.ticket_id}`,
    text: `Approve ${gate}`,
    onclick: (event) => act(() => decide("approve"), event.currentTarget),
  });
  const reject = h("button", {
    type: "button",
    class: "run-action danger",
    dataset: { action: "reject", gate },
    "aria-label": `Reject ${gate} of ${run.ticket_id}`,
    text: `Reject ${gate}`,
    onclick: (event) => act(() => askToReject(run, decide), event.currentTarget),
  });
  return [approve, reject];
}

/** Reject after a dialog that takes an optional note; cancelled, nothing is sent. */
function askToReject(run, decide) {
  return formDialog({
    title: `Reject the ${run.gate.gate} of ${run.ticket_id}?`,
    describe: "The ticket goes back to planning: its run stops and its worktree is kept.",
    fields: [{ name: "note", label: "Note (optional)", kind: "textarea" }],
    submitLabel: "Reject",
    submit: async ({ note }) => decide("reject", note.trim() || null),
  });
}

const DOSSIER_TITLE = { plan: "Plan dossier", merge: "Merge dossier" };

/** The folded dossiers a person opened, by ticket, gate and opening: a card drawn again
 * (at each status) keeps its dossier open. */
const unfolded = new Set();

/**
 * The gate's dossier: the backend's rendered HTML when it sends one, else its Markdown source
 * as text (the console renders no Markdown itself). `folded`: in a disclosure (on a card).
 */
export function gateDossier(run, { folded = false } = {}) {
  if (!run.gate) return null;
  const gate = run.gate;
  const title = DOSSIER_TITLE[gate.gate] || `${humanize(gate.gate)} dossier`;
  const body = gate.dossier_html
    ? setRenderedHtml(h("div", { class: "rendered" }), gate.dossier_html)
    : h("pre", { class: "dossier-source", text: gate.dossier || "" });
  const data = { role: "dossier", gate: gate.gate };
  if (folded) {
    const key = `${run.ticket_id}:${gate.gate}:${gate.opened_at}`;
    const toggled = (event) => {
      if (event.currentTarget.open) unfolded.add(key);
      else unfolded.delete(key);
    };
    const summary = h("summary", { text: title });
    const props = { class: "gate-dossier", dataset: data, open: unfolded.has(key) };
    return h("details", { ...props, ontoggle: toggled }, summary, body);
  }
  const headingId = `dossier-${run.ticket_id}-${gate.gate}`;
  return h(
    "section",
    { class: "gate-dossier", dataset: data, "aria-labelledby": headingId },
    h("h4", { id: headingId, text: title }),
    gate.opened_at
      ? h("p", {
          class: "hint",
          dataset: { role: "gate-since" },
          text: `Waiting since ${formatTime(new Date(gate.opened_at * 1000).toISOString())}`,
        })
      : null,
    body,
  );
}
