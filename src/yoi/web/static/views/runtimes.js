// The Runtimes view: each runtime's status, model, load, capabilities and diagnostics.
//
// Refreshes every few seconds while shown (not while the tab is hidden). A
// card is rebuilt only when what it shows has changed.
import { api } from "../lib/api.js";
import { h, replace } from "../lib/dom.js";
import { poll, runtimeBadge, setRuntimeBadge, showProblem } from "./workers.js";

export function mount(main) {
  const problems = h("div", { class: "view-problems", "aria-live": "polite" });
  const list = h("div", { class: "runtime-cards" });
  replace(
    main,
    h(
      "section",
      { class: "runtimes-view", "aria-labelledby": "runtimes-title" },
      h("header", { class: "view-header" }, h("h1", { id: "runtimes-title", text: "Runtimes" })),
      problems,
      list,
    ),
  );
  const cards = new Map();

  async function refresh() {
    try {
      const { runtimes } = await api.get("/api/runtimes");
      showProblem(problems, null);
      sync(list, cards, runtimes);
    } catch (error) {
      showProblem(problems, error);
    }
  }

  const poller = poll(refresh);
  return { unmount: () => poller.stop() };
}

function sync(list, cards, runtimes) {
  const wanted = runtimes.map((runtime) => {
    let card = cards.get(runtime.runtime_id);
    if (!card) {
      card = { article: null, key: null };
      cards.set(runtime.runtime_id, card);
    }
    const key = JSON.stringify(runtime);
    if (card.key !== key) {
      const fresh = runtimeCard(runtime);
      card.article?.replaceWith(fresh);
      card.article = fresh;
      card.key = key;
    }
    return card.article;
  });
  const ids = new Set(runtimes.map((runtime) => runtime.runtime_id));
  for (const id of [...cards.keys()]) if (!ids.has(id)) cards.delete(id);
  const current = [...list.children];
  if (current.length !== wanted.length || current.some((node, i) => node !== wanted[i])) {
    list.replaceChildren(...wanted);
  }
  if (!runtimes.length) {
    replace(list, h("p", { class: "empty", text: "This backend knows no runtimes." }));
  }
}

function runtimeCard(runtime) {
  const titleId = `runtime-card-${runtime.runtime_id}-title`;
  const badge = runtimeBadge();
  setRuntimeBadge(badge, runtime.status);
  return h(
    "article",
    {
      class: "runtime runtime-card",
      dataset: { runtimeId: runtime.runtime_id },
      "aria-labelledby": titleId,
    },
    h(
      "header",
      { class: "runtime-header" },
      h("h2", { id: titleId, text: runtime.display_name }),
      badge,
    ),
    h(
      "dl",
      { class: "runtime-facts" },
      fact("Runtime id", h("code", { text: runtime.runtime_id }), "runtime-id"),
      fact("Kind", runtime.kind, "kind"),
      fact("Model", runtime.model ?? "not known yet", "model"),
      fact("Workers", load(runtime), "load"),
    ),
    h("h3", { text: "Capabilities" }),
    capabilities(runtime.capabilities),
    h("h3", { text: "Diagnostics" }),
    diagnostics(runtime.diagnostics),
  );
}

function fact(term, value, role) {
  const detail = h("dd", { dataset: { role } }, value);
  return h("div", { class: "fact" }, h("dt", { text: term }), detail);
}

function load(runtime) {
  if (runtime.worker_count === null || runtime.worker_count === undefined) return "not known yet";
  return `${runtime.worker_count} (${runtime.busy_count ?? 0} busy)`;
}

function capabilities(names) {
  if (!names.length) {
    return h("p", { class: "empty", dataset: { role: "capabilities" }, text: "none reported" });
  }
  return h(
    "ul",
    { class: "capabilities", dataset: { role: "capabilities" } },
    names.map((name) => h("li", { dataset: { capability: name } }, h("code", { text: name }))),
  );
}

function diagnostics(items) {
  if (!items.length) return h("p", { class: "empty", text: "no diagnostics" });
  return h(
    "ul",
    { class: "diagnostics" },
    items.map((item) =>
      h(
        "li",
        { class: "diagnostic", dataset: { role: "diagnostic", code: item.code } },
        h("code", { class: "error-code", text: item.code }),
        " ",
        h("span", { text: item.message }),
        item.worker_id ? h("span", { class: "hint", text: ` (worker ${item.worker_id})` }) : null,
      ),
    ),
  );
}
