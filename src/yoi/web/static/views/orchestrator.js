// What the orchestrator is doing, as the board and the ticket drawer show it.
//
// Everything here renders `GET /api/orchestrator` (runs with their phase, usage and
// gate, queued tickets with the sentence that says why they wait, problems) and
// `GET /api/tickets/{id}/explain`. The one choice made here is presentation:
// Stop is offered on a run that is not over, Retry on a stopped or failed one;
// the backend decides whether either is allowed and says why not.
import { api, ticketPath } from "../lib/api.js";
import { errorLine, h, replace } from "../lib/dom.js";
import { gateBadge, gateButtons, gateDossier } from "./gate.js";
import { humanize } from "./ticket.js";
import { usageLine, usageTable } from "./usage.js";

/** How often the status is fetched again when no ticket changed (a run's phase may have). */
export const STATUS_EVERY_MS = 20_000;

const RETRIABLE = new Set(["stopped", "failed"]);

/** The last status, indexed by ticket: `run(id)`, `waiting(id)`. */
export class Status {
  constructor(data = null) {
    this.data = data;
    this.runs = new Map((data?.runs || []).map((run) => [run.ticket_id, run]));
    this.waits = new Map((data?.waiting || []).map((wait) => [wait.ticket_id, wait]));
  }

  run(ticketId) {
    return this.runs.get(ticketId) ?? null;
  }

  waiting(ticketId) {
    return this.waits.get(ticketId) ?? null;
  }
}

export function fetchStatus() {
  return api.get("/api/orchestrator").then((data) => new Status(data));
}

/** A run's phase for people: "reviewing · round 2", "stopped: review_rounds_exhausted". */
export function phaseText(run) {
  switch (run.phase) {
    case "reviewing":
      return `reviewing · round ${run.review_round}`;
    case "stopped":
    case "failed":
      return run.stop_reason ? `${run.phase}: ${run.stop_reason}` : run.phase;
    default:
      return humanize(run.phase);
  }
}

/** The orchestrator's state above the board: off, or what keeps it from starting work. */
export function statusNotes(status, error) {
  if (error) return h("div", { class: "orchestrator-notes" }, errorLine(error));
  const data = status.data;
  if (!data) return null;
  const off = data.enabled
    ? null
    : h("p", {
        class: "orchestrator-off",
        dataset: { role: "orchestrator-off" },
        text: "The orchestrator is off: queued tickets are not started.",
      });
  const problems = (data.problems || []).map((problem) =>
    h(
      "p",
      { class: "orchestrator-problem", dataset: { role: "orchestrator-problem", code: problem.code } },
      h("code", { class: "error-code", text: problem.code }),
      " ",
      h("span", { text: problem.message }),
    ),
  );
  if (!off && problems.length === 0) return null;
  return h("div", { class: "orchestrator-notes", role: "status" }, off, problems);
}

/** What a card shows of its ticket's run or wait; `act(send)` runs a button's request. */
export function cardRun(card, status, act) {
  const run = card.state === "queued" || card.state === "inprogress" ? status.run(card.id) : null;
  const waiting = card.state === "queued" && !run ? status.waiting(card.id) : null;
  return [
    run ? runLine(run) : null,
    run && card.state === "inprogress" ? usageLine(run.usage?.run) : null,
    waiting
      ? h("p", { class: "card-waiting", dataset: { role: "waiting" }, text: waiting.sentence })
      : null,
    run ? gateDossier(run, { folded: true }) : null,
    run ? runActions(run, act) : [],
  ];
}

/** The phase label and the links to the run's live worker consoles. */
function runLine(run) {
  return h(
    "div",
    { class: "run-line" },
    h("span", {
      class: "badge run-phase",
      dataset: { role: "phase", phase: run.phase },
      text: phaseText(run),
    }),
    gateBadge(run),
    reasonBadge(run),
    workerLink("coder", run.coder),
    workerLink("reviewer", run.reviewer),
  );
}

/** Why a run is not running, as the backend names it, when its phase and gate do not say it
 * already ("stalled", "validation failed" for a run that ran out of fix rounds). */
function reasonBadge(run) {
  if (!run.reason || run.gate || run.reason === run.stop_reason) return null;
  return h("span", {
    class: "badge run-reason",
    dataset: { role: "run-reason", reason: run.reason },
    text: humanize(run.reason),
  });
}

function workerLink(role, worker) {
  if (!worker) return null;
  const href = `#/workers/${encodeURIComponent(worker.runtime_id)}/${encodeURIComponent(worker.worker_id)}`;
  return h("a", {
    class: "worker-link",
    href,
    title: `The ${role}'s console: ${worker.worker_id}`,
    dataset: { role: `${role}-link` },
    text: role,
  });
}

/** Stop for a run in flight, Retry for a stopped or failed one. */
export function runButtons(run, act) {
  const path = (verb) => `/api/orchestrator/runs/${encodeURIComponent(run.ticket_id)}/${verb}`;
  if (!run.over) {
    return button("stop", "Stop", "danger", act, () => api.post(path("stop")));
  }
  if (RETRIABLE.has(run.phase)) {
    return button("retry", "Retry", "primary", act, () => api.post(path("retry")));
  }
  return [];
}

/** A run's buttons: Approve and Reject at a gate, then Stop or Retry. */
function runActions(run, act) {
  return [gateButtons(run, act), runButtons(run, act)];
}

function button(name, label, emphasis, act, send) {
  return h("button", {
    type: "button",
    class: `run-action ${emphasis}`,
    dataset: { action: name },
    text: label,
    onclick: (event) => act(send, event.currentTarget),
  });
}

/**
 * The drawer's orchestration section: why the ticket waits (explain), and its run.
 * `element` stays put across reloads; `show(ticket, status)` fills it again.
 */
export class TicketRun {
  constructor(ticketId, { onChanged }) {
    this.ticketId = ticketId;
    this.onChanged = onChanged;
    this.status = new Status();
    this.explained = null;
    this.error = null;
    this.seq = 0;
    this.busy = false;
    this.errors = h("div", { class: "run-errors" });
    this.body = h("div");
    this.element = h(
      "section",
      { class: "drawer-section", dataset: { role: "orchestration" } },
      h("h3", { text: "Orchestration" }),
      this.errors,
      this.body,
    );
  }

  /** The ticket was (re)loaded: ask why again. */
  async load() {
    const mine = ++this.seq;
    try {
      const answer = await api.get(ticketPath(this.ticketId, "/explain"));
      if (mine !== this.seq) return;
      this.explained = answer;
      this.error = null;
    } catch (error) {
      if (mine !== this.seq) return;
      this.error = error;
    }
    this.render();
  }

  /** A new status arrived: show its run of this ticket. */
  update(status) {
    this.status = status;
    this.render();
  }

  render() {
    const run = this.status.run(this.ticketId);
    const act = (send, button) => this.act(send, button);
    replace(
      this.body,
      this.error ? errorLine(this.error) : explanation(this.explained),
      run ? h("div", { class: "run-detail" }, runLine(run), runFacts(run)) : null,
      run ? gateDossier(run) : null,
      run ? usageTable(run.usage, run.attempt) : null,
      run ? h("div", { class: "drawer-actions" }, runActions(run, act)) : null,
    );
  }

  async act(send, button) {
    if (this.busy) return;
    this.busy = true;
    button.disabled = true;
    replace(this.errors);
    try {
      await send();
      this.onChanged();
    } catch (error) {
      replace(this.errors, errorLine(error));
    } finally {
      this.busy = false;
      button.disabled = false;
    }
  }
}

/** The sentence, then its reasons as tags with the tickets they name (the sentence has their
 * words already: each one's detail is its tooltip), then the policy's next action if any. */
function explanation(explained) {
  if (!explained) return null;
  const reasons = (explained.reasons || []).map((reason) =>
    h(
      "li",
      { dataset: { code: reason.code }, title: reason.detail || null },
      h("span", { class: "badge", text: humanize(reason.code) }),
      reason.ticket_id
        ? [
            " ",
            h("a", { href: `#/board/${encodeURIComponent(reason.ticket_id)}`, text: reason.ticket_id }),
            reason.state ? ` (${humanize(reason.state)})` : null,
          ]
        : null,
    ),
  );
  const next = explained.decision?.next_action;
  return [
    h("p", { class: "explain-sentence", dataset: { role: "explain" }, text: explained.sentence }),
    reasons.length > 0
      ? h("ul", { class: "explain-reasons", dataset: { role: "explain-reasons" } }, reasons)
      : null,
    next ? h("p", { class: "hint", dataset: { role: "explain-next" }, text: `Next: ${next}` }) : null,
  ];
}

function runFacts(run) {
  const rows = [
    ["attempt", "Attempt", String(run.attempt)],
    run.branch && ["branch", "Branch", h("code", { text: run.branch })],
    run.head_commit && ["head", "Head", h("code", { text: run.head_commit.slice(0, 12) })],
    run.approved_commit && [
      "approved",
      "Approved",
      h("code", { text: run.approved_commit.slice(0, 12) }),
    ],
    run.fix_rounds > 0 && ["fix-rounds", "Fix rounds", String(run.fix_rounds)],
  ].filter(Boolean);
  return h(
    "dl",
    { class: "meta" },
    rows.map(([fact, name, value]) =>
      h(
        "div",
        { class: "meta-row", dataset: { fact } },
        h("dt", { text: name }),
        h("dd", {}, value),
      ),
    ),
  );
}
