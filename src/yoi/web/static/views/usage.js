// Tokens and cost as the backend counts and prices them.
//
// A usage is `{input_tokens, output_tokens, cached_tokens, cost_usd}`: a run's, a worker's
// (`GET /api/orchestrator` → `runs[].usage`) or a worker console's (`GET …/workers/{id}/usage`).
// The backend prices tokens; `cost_usd: null` means it knows no price for the model, shown
// as "cost unknown". Nothing here computes a figure: it only writes them for people.
import { h } from "../lib/dom.js";

const COUNT = new Intl.NumberFormat("en-US");

/** "$0.0123" below a dollar's cent, "$1.25" above; "cost unknown" for null. */
export function costText(cost) {
  if (cost === null || cost === undefined) return "cost unknown";
  const digits = cost !== 0 && Math.abs(cost) < 0.01 ? 4 : 2;
  return `$${cost.toFixed(digits)}`;
}

/** "1,234 in · 56 out · 10 cached" (cached left out when there are none). */
export function tokensText(usage) {
  const parts = [
    `${COUNT.format(usage.input_tokens || 0)} in`,
    `${COUNT.format(usage.output_tokens || 0)} out`,
  ];
  if (usage.cached_tokens) parts.push(`${COUNT.format(usage.cached_tokens)} cached`);
  return parts.join(" · ");
}

/** One line: tokens, then cost (said as usage to a screen reader); `role` names it for tests
 * and styles. */
export function usageLine(usage, role = "usage") {
  if (!usage) return null;
  const known = usage.cost_usd !== null && usage.cost_usd !== undefined;
  return h(
    "p",
    { class: "usage-line", dataset: { role, cost: known ? "known" : "unknown" } },
    h("span", { class: "visually-hidden", text: "Usage: " }),
    h("span", { class: "usage-tokens", dataset: { role: "tokens" }, text: tokensText(usage) }),
    " · ",
    h("span", { class: "usage-cost", dataset: { role: "cost" }, text: costText(usage.cost_usd) }),
  );
}

/** A run's usage (and, past its first attempt, the ticket's over all of them), then a row
 * per worker of every attempt. */
export function usageTable(usage, attempt = 1) {
  if (!usage) return null;
  const workers = usage.workers || [];
  const rows = workers.map((worker) =>
    h(
      "tr",
      { dataset: { workerId: worker.worker_id, role: "usage-worker" } },
      h("th", { scope: "row", text: `${worker.role} · attempt ${worker.attempt}` }),
      h("td", { text: worker.model || "" }),
      h("td", { class: "number", text: COUNT.format(worker.input_tokens || 0) }),
      h("td", { class: "number", text: COUNT.format(worker.output_tokens || 0) }),
      h("td", { class: "number", text: COUNT.format(worker.cached_tokens || 0) }),
      h("td", { class: "number", text: costText(worker.cost_usd) }),
    ),
  );
  return h(
    "div",
    { class: "usage", dataset: { role: "run-usage" } },
    usageLine(usage.run, "usage-run"),
    attempt > 1 && usage.total
      ? h(
          "div",
          { class: "usage-total" },
          h("span", { class: "hint", text: "All attempts:" }),
          usageLine(usage.total, "usage-total"),
        )
      : null,
    rows.length > 0
      ? h(
          "table",
          { class: "usage-workers", "aria-label": "Usage per worker" },
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              ["Worker", "Model", "In", "Out", "Cached", "Cost"].map((name) =>
                h("th", { scope: "col", text: name }),
              ),
            ),
          ),
          h("tbody", {}, rows),
        )
      : null,
  );
}
