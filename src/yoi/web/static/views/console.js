// One worker's console: who it is, its live transcript, a composer, Cancel and Stop.
//
// The worker's detail comes from `GET .../workers/{w}` and then from each
// snapshot of its event stream; its status from the stream's `status` events.
// Its usage (tokens, and their cost as the backend prices them) is `GET …/usage`,
// fetched when the console opens and again on each `usage` event of the stream.
// A worker or runtime that does not exist shows its error and opens no stream;
// any other failure (a runtime that is down) shows its error while the stream
// keeps trying, and the console comes back when the runtime does.
import { api, workerPath } from "../lib/api.js";
import { formDialog } from "../lib/dialog.js";
import { errorLine, h, replace } from "../lib/dom.js";
import { createComposer } from "./composer.js";
import { createTranscript } from "./transcript.js";
import { usageLine } from "./usage.js";

const NOT_THERE = new Set(["worker_not_found", "runtime_not_found"]);

export function mount(main, params, context) {
  let view = open(main, params, context);
  return {
    update(next) {
      if (next.runtimeId === view.runtimeId && next.workerId === view.workerId) return;
      view.close();
      view = open(main, next, context);
    },
    unmount() {
      view.close();
    },
  };
}

function open(main, { runtimeId, workerId }) {
  const path = (suffix = "") => workerPath(runtimeId, workerId, suffix);
  const title = h("h1", { id: "worker-console-title", text: workerId });
  const badge = h("span", {
    class: "badge",
    dataset: { role: "worker-status", status: "unknown" },
    text: "…",
  });
  const facts = h("dl", { class: "worker-facts" });
  const usage = h("div", { class: "worker-usage", dataset: { role: "worker-usage" } });
  const errors = h("div", { class: "console-errors", "aria-live": "polite" });
  const cancel = h("button", { type: "button", text: "Cancel", disabled: true });
  cancel.addEventListener("click", cancelRun);
  const stop = h("button", { type: "button", class: "danger", text: "Stop", onclick: stopWorker });
  let name = workerId;
  let closed = false;
  let loadProblem = null; // why the first look at the worker failed, until its stream answers

  const transcript = createTranscript({
    runtimeId,
    workerId,
    onStatus: showStatus,
    onWorker: (worker) => {
      loadProblem?.remove();
      loadProblem = null;
      showWorker(worker);
    },
    onEvent: (frame) => {
      if (frame.event?.type === "usage") usageChanged();
    },
  });
  const refetch = { loading: false, again: false };
  const composer = createComposer({
    label: `Message to ${name}`,
    send: async (content, onBusy) => {
      replace(errors);
      await api.post(path("/input"), { content, on_busy: onBusy });
    },
  });

  const section = h(
    "section",
    { class: "worker-console", dataset: { runtimeId, workerId }, "aria-labelledby": title.id },
    h(
      "header",
      { class: "console-head" },
      h("a", { class: "back-link", href: "#/workers", text: "← Workers" }),
      h("div", { class: "console-title" }, title, badge),
      facts,
      usage,
      h("div", { class: "console-actions" }, cancel, stop),
    ),
    errors,
    transcript.element,
    composer.element,
  );
  replace(main, section);
  load();

  async function load() {
    try {
      const { worker } = await api.get(path());
      if (closed) return;
      showWorker(worker);
      showStatus(worker.status);
      usageChanged();
    } catch (error) {
      if (closed) return;
      loadProblem = errorLine(error);
      replace(errors, loadProblem);
      if (NOT_THERE.has(error.code)) {
        composer.setDisabled(true, "There is no such worker.");
        stop.disabled = true;
        return;
      }
    }
    transcript.start();
  }

  function showWorker(worker) {
    if (!worker || !worker.worker_id) return;
    name = worker.display_name || worker.worker_id;
    title.textContent = name;
    composer.setLabel(`Message to ${name}`);
    replace(
      facts,
      fact("Profile", worker.profile),
      fact("Model", worker.model),
      fact("Worker id", worker.worker_id),
      fact("Runtime", worker.runtime_id),
    );
  }

  /** Tokens were used: fetch the detail again (its figures and cost), one fetch at a time. */
  async function usageChanged() {
    if (refetch.loading) {
      refetch.again = true;
      return;
    }
    refetch.loading = true;
    try {
      do {
        refetch.again = false;
        try {
          const summary = await api.get(`${path()}/usage`);
          if (closed) return;
          replace(usage, usageLine(summary.usage, "usage"));
        } catch {
          // the stream says what is wrong with the runtime; the last figures stay
        }
      } while (refetch.again && !closed);
    } finally {
      refetch.loading = false;
    }
  }

  function showStatus(status) {
    if (!status) return;
    badge.dataset.status = status;
    badge.textContent = status;
    cancel.disabled = status !== "running";
    stop.disabled = status === "stopped";
    composer.setBusy(status === "running");
    composer.setDisabled(status === "stopped", "This worker is stopped: it takes no more input.");
  }

  async function cancelRun() {
    replace(errors);
    cancel.disabled = true;
    try {
      await api.post(path("/cancel"), {});
    } catch (error) {
      replace(errors, errorLine(error));
      cancel.disabled = badge.dataset.status !== "running";
    }
  }

  async function stopWorker() {
    replace(errors);
    await formDialog({
      title: `Stop ${name}?`,
      describe:
        "A stopped worker ends its run, drops its queued inputs and takes no more input. " +
        "This cannot be undone.",
      fields: [{ name: "reason", label: "Reason (optional)", kind: "text" }],
      submitLabel: "Stop worker",
      submit: async ({ reason }) => {
        const body = reason.trim() ? { reason: reason.trim() } : {};
        return (await api.post(path("/stop"), body)).ack;
      },
    });
    if (!closed) stop.focus();
  }

  return {
    runtimeId,
    workerId,
    close() {
      closed = true;
      transcript.close();
    },
  };
}

function fact(label, value) {
  if (!value) return null;
  return h("div", { class: "fact" }, h("dt", { text: label }), h("dd", { text: value }));
}
