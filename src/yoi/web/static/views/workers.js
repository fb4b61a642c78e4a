// The Workers view: every runtime with its availability, and the workers each one holds.
//
// The view refreshes every few seconds while it is shown, and not while the
// tab is hidden. Runtimes and worker rows are kept by id and changed in
// place, so a refresh never takes the keyboard focus away or moves what a
// person is reading. A runtime that cannot list its workers shows the
// listing's diagnostic with its code, and its last known workers, marked so.
import { api } from "../lib/api.js";
import { errorLine, h, replace } from "../lib/dom.js";
import { openCreateWorker } from "./create_worker.js";

export const REFRESH_MS = 3000;
const MAX_PAGES = 50;
const COLUMNS = ["Worker", "Status", "Profile", "Model"];

export function mount(main, _params, context) {
  const problems = h("div", { class: "view-problems", "aria-live": "polite" });
  const list = h("div", { class: "runtime-list" });
  const newWorker = h("button", {
    type: "button",
    class: "primary",
    text: "New worker",
    onclick: async () => {
      newWorker.disabled = true;
      try {
        if (!(await createWorker(context, runtimes))) newWorker.focus();
      } finally {
        newWorker.disabled = false;
      }
    },
  });
  replace(
    main,
    h(
      "section",
      { class: "workers-view", "aria-labelledby": "workers-title" },
      h(
        "header",
        { class: "view-header" },
        h("h1", { id: "workers-title", text: "Workers" }),
        newWorker,
      ),
      problems,
      list,
    ),
  );
  const cards = new Map();
  let runtimes = [];

  async function refresh() {
    try {
      runtimes = (await api.get("/api/runtimes")).runtimes;
      const ids = runtimes.map((runtime) => runtime.runtime_id);
      const listings = await Promise.all(ids.map(listWorkers));
      showProblem(problems, null);
      syncCards(list, cards, runtimes, listings);
    } catch (error) {
      showProblem(problems, error);
    }
  }

  const poller = poll(refresh);
  return { unmount: () => poller.stop() };
}

/** Open the create dialog on the runtimes as they are now (or as last seen). */
async function createWorker(context, lastSeen) {
  let runtimes = lastSeen;
  try {
    runtimes = (await api.get("/api/runtimes")).runtimes;
  } catch {
    // the dialog works from the last listing; the create request will say what is wrong
  }
  return openCreateWorker(context, runtimes);
}

/** Show `error` (or nothing) in `container`; the same error again is left as it is. */
export function showProblem(container, error) {
  const key = error ? `${error.code}: ${error.message}` : "";
  if (container.dataset.problem === key) return;
  container.dataset.problem = key;
  if (error) replace(container, errorLine(error));
  else replace(container);
}

/**
 * Every worker of one runtime, following `next_after` pages. A failed request becomes a
 * listing diagnostic, as the backend reports an unreachable runtime.
 */
export async function listWorkers(runtimeId) {
  const workers = [];
  const diagnostics = [];
  let after = null;
  try {
    for (let page = 0; page < MAX_PAGES; page += 1) {
      const body = await api.get("/api/workers", { runtime_id: runtimeId, after });
      workers.push(...body.workers);
      diagnostics.push(...body.diagnostics);
      after = body.next_after;
      if (!after) break;
    }
  } catch (error) {
    diagnostics.push({ runtime_id: runtimeId, code: error.code, message: error.message });
  }
  return { workers, diagnostics, complete: diagnostics.length === 0 };
}

/**
 * Run `task` now, then again `ms` after each run ends, while the tab is visible.
 * Returns `{stop()}`. `task` handles its own errors.
 */
export function poll(task, ms = REFRESH_MS) {
  let timer = null;
  let running = false;
  let stopped = false;
  async function tick() {
    clearTimeout(timer);
    timer = null;
    if (stopped || running || document.hidden) return;
    running = true;
    try {
      await task();
    } finally {
      running = false;
    }
    if (!stopped && !document.hidden) timer = setTimeout(tick, ms);
  }
  const onVisibility = () => {
    if (!document.hidden) tick();
  };
  document.addEventListener("visibilitychange", onVisibility);
  tick();
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
      document.removeEventListener("visibilitychange", onVisibility);
    },
  };
}

/** A runtime's availability badge. */
export function runtimeBadge() {
  return h("span", { class: "badge", dataset: { role: "runtime-status" } });
}

/** Set a runtime badge to `status` ("available" | "unavailable"). */
export function setRuntimeBadge(badge, status) {
  setData(badge, "status", status);
  setText(badge, status);
}

/** Change text only when it differs: no needless DOM churn, selections survive. */
export function setText(element, text) {
  const value = text === null || text === undefined ? "" : String(text);
  if (element.textContent !== value) element.textContent = value;
}

function setData(element, key, value) {
  if (element.dataset[key] !== value) element.dataset[key] = value;
}

/** Keep `container`'s children in the order of `wanted`, moving nodes only when needed. */
function keepOrder(container, wanted) {
  const current = [...container.children];
  const same = current.length === wanted.length && current.every((node, i) => node === wanted[i]);
  if (!same) container.replaceChildren(...wanted);
}

function syncCards(list, cards, runtimes, listings) {
  const seen = new Set();
  runtimes.forEach((runtime, index) => {
    seen.add(runtime.runtime_id);
    let card = cards.get(runtime.runtime_id);
    if (!card) {
      card = runtimeCard(runtime.runtime_id);
      cards.set(runtime.runtime_id, card);
    }
    card.update(runtime, listings[index]);
  });
  for (const id of [...cards.keys()]) if (!seen.has(id)) cards.delete(id);
  keepOrder(
    list,
    runtimes.map((runtime) => cards.get(runtime.runtime_id).article),
  );
  if (runtimes.length === 0) {
    replace(list, h("p", { class: "empty", text: "This backend knows no runtimes." }));
  }
}

function runtimeCard(runtimeId) {
  const titleId = `runtime-${runtimeId}-title`;
  const title = h("h2", { id: titleId });
  const kind = h("span", { class: "runtime-kind" });
  const counts = h("span", { class: "runtime-counts" });
  const badge = runtimeBadge();
  const diagnostics = h("ul", { class: "diagnostics", "aria-live": "polite" });
  const note = h("p", { class: "stale-note", hidden: true });
  const rows = new Map();
  const tbody = h("tbody");
  const caption = h("caption", { class: "visually-hidden" });
  const table = h(
    "table",
    { class: "workers-table" },
    caption,
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        COLUMNS.map((name) => h("th", { scope: "col", text: name })),
      ),
    ),
    tbody,
  );
  const scroll = h("div", { class: "table-scroll", hidden: true }, table);
  const empty = h("p", { class: "empty", text: "No workers.", hidden: true });
  const article = h(
    "article",
    { class: "runtime", dataset: { runtimeId }, "aria-labelledby": titleId },
    h(
      "header",
      { class: "runtime-header" },
      title,
      badge,
      h("span", { class: "runtime-meta" }, kind, " · ", h("code", { text: runtimeId }), counts),
    ),
    diagnostics,
    note,
    scroll,
    empty,
  );

  function update(runtime, listing) {
    setText(title, runtime.display_name);
    setText(caption, `Workers on ${runtime.display_name}`);
    setText(kind, runtime.kind);
    setText(counts, countsText(runtime));
    setRuntimeBadge(badge, runtime.status);
    syncDiagnostics(diagnostics, listing.diagnostics);
    if (listing.complete) syncRows(tbody, rows, runtime.runtime_id, listing.workers);
    const stale = !listing.complete && rows.size > 0;
    table.classList.toggle("stale", stale);
    note.hidden = !stale;
    setText(note, stale ? "Last known workers: this runtime did not answer." : "");
    empty.hidden = rows.size > 0;
    scroll.hidden = rows.size === 0;
    setText(empty, listing.complete ? "No workers." : "No workers listed.");
  }

  return { article, update };
}

function countsText(runtime) {
  if (runtime.worker_count === null || runtime.worker_count === undefined) return "";
  const workers = `${runtime.worker_count} worker${runtime.worker_count === 1 ? "" : "s"}`;
  return ` · ${workers}, ${runtime.busy_count ?? 0} busy`;
}

function syncDiagnostics(list, diagnostics) {
  const key = JSON.stringify(diagnostics.map((item) => [item.code, item.message]));
  if (list.dataset.key === key) return;
  list.dataset.key = key;
  replace(
    list,
    diagnostics.map((item) =>
      h(
        "li",
        { class: "diagnostic", dataset: { role: "diagnostic", code: item.code } },
        h("code", { class: "error-code", text: item.code }),
        " ",
        h("span", { text: item.message }),
      ),
    ),
  );
  list.hidden = diagnostics.length === 0;
}

function syncRows(tbody, rows, runtimeId, workers) {
  const seen = new Set();
  for (const worker of workers) {
    seen.add(worker.worker_id);
    let row = rows.get(worker.worker_id);
    if (!row) {
      row = workerRow(runtimeId, worker.worker_id);
      rows.set(worker.worker_id, row);
    }
    row.update(worker);
  }
  for (const id of [...rows.keys()]) if (!seen.has(id)) rows.delete(id);
  keepOrder(
    tbody,
    workers.map((worker) => rows.get(worker.worker_id).tr),
  );
}

function workerRow(runtimeId, workerId) {
  const link = h("a", {
    href: `#/workers/${encodeURIComponent(runtimeId)}/${encodeURIComponent(workerId)}`,
  });
  const badge = h("span", { class: "badge", dataset: { role: "worker-status" } });
  const profile = h("td", { class: "worker-profile", dataset: { label: "Profile" } });
  const model = h("td", { class: "worker-model", dataset: { label: "Model" } });
  const tr = h(
    "tr",
    { class: "worker", dataset: { workerId } },
    h(
      "td",
      { class: "worker-name", dataset: { label: "Worker" } },
      h("div", {}, link, h("small", { class: "worker-id", text: workerId })),
    ),
    h("td", { class: "worker-status", dataset: { label: "Status" } }, badge),
    profile,
    model,
  );

  function update(worker) {
    setText(link, worker.display_name || worker.worker_id);
    setData(badge, "status", worker.status);
    setText(badge, worker.status);
    setText(profile, worker.profile);
    setText(model, worker.model);
  }

  return { tr, update };
}
