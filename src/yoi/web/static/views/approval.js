// A pending approval, drawn at its tool call: the rule that asked, the expiry, Allow / Deny.
//
// A click only sends the decision. The box shows how the approval ended when
// the `approval_resolved` event says so, which is what every page watching
// the worker sees (and what happens when nobody answers in time).
import { errorLine, h, replace } from "../lib/dom.js";

const DECISION_TEXT = { allow: "Allowed", deny: "Denied" };
const BY_TEXT = {
  person: "by a person",
  timeout: "when its time ran out",
  cancelled: "as its run ended",
};

/** The approvals drawn in one transcript, by id; `decide` as for `approvalBox`. */
export class Approvals {
  constructor(decide) {
    this.decide = decide;
    this.boxes = new Map();
  }

  reset() {
    this.boxes.clear();
  }

  has(approvalId) {
    return this.boxes.has(approvalId);
  }

  /** Draw `approval` in the tool call `li`. */
  show(approval, li) {
    const box = approvalBox(approval, this.decide);
    li.querySelector(".tool-approvals").append(box);
    this.boxes.set(approval.approval_id, box);
  }

  /** An `approval_resolved` event: the box says how it ended (none drawn: nothing to do). */
  resolve(event) {
    const box = this.boxes.get(event.approval_id);
    if (box) resolveApproval(box, event);
  }
}

/**
 * The box for `approval` (`approval_id`, `tool`, `rule`, `expires_at`, ...);
 * `decide(approvalId, decision)` sends a decision and rejects with an ApiError.
 */
export function approvalBox(approval, decide) {
  const id = approval.approval_id;
  const errors = h("div", { class: "approval-errors" });
  const buttons = ["allow", "deny"].map((decision) =>
    h("button", {
      type: "button",
      class: decision === "allow" ? "primary" : "danger",
      dataset: { decision },
      text: decision === "allow" ? "Allow" : "Deny",
      onclick: () => send(decision),
    }),
  );
  const box = h(
    "div",
    {
      class: "tool-approval",
      role: "group",
      "aria-label": `Approval for ${approval.tool}`,
      dataset: { approvalId: id, state: "pending" },
    },
    h(
      "p",
      { class: "approval-ask" },
      "Waiting for approval: rule ",
      h("code", { class: "approval-rule", text: approval.rule ?? "" }),
    ),
    expiryLine(approval.expires_at),
    h("div", { class: "approval-actions" }, buttons),
    errors,
  );

  async function send(decision) {
    replace(errors);
    for (const button of buttons) button.disabled = true;
    try {
      await decide(id, decision);
      box.dataset.sent = decision;
    } catch (error) {
      if (box.dataset.state !== "pending") return;
      replace(errors, errorLine(error));
      for (const button of buttons) button.disabled = false;
    }
  }
  return box;
}

/** The approval has ended as `event` (`decision`, `by`) says: its buttons go. */
function resolveApproval(box, event) {
  const decision = event.decision === "allow" ? "allow" : "deny";
  box.dataset.state = decision === "allow" ? "allowed" : "denied";
  box.dataset.by = event.by ?? "";
  const by = BY_TEXT[event.by] ?? (event.by ? `by ${event.by}` : "");
  replace(
    box,
    h("p", { class: "approval-outcome", text: `${DECISION_TEXT[decision]} ${by}`.trim() }),
  );
}

function expiryLine(expiresAt) {
  if (!expiresAt) return null;
  const when = new Date(expiresAt);
  const text = Number.isNaN(when.getTime())
    ? String(expiresAt)
    : when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  return h(
    "p",
    { class: "approval-expiry" },
    "Expires at ",
    h("time", { datetime: expiresAt, text }),
  );
}
