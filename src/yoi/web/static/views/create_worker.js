// The dialog that creates a worker: runtime, profile, display name, capabilities, a first message.
//
// The profiles, with what each is for, are the workspace's (`/api/workspace`);
// the capabilities offered are the tools the chosen runtime lists
// (`runtime.requestable_tools`), so nothing is offered that the runtime would refuse.
//
// On success the page moves to the new worker's console; a refusal (an
// unknown profile, a capability the runtime does not offer, a runtime that
// went away) shows in the dialog with its code, and the dialog stays open.
import { api, ApiError } from "../lib/api.js";
import { formDialog } from "../lib/dialog.js";

const DEFAULT_PROFILE = "default";

/**
 * Ask for a new worker and create it.
 * @param {{workspace: {profiles: {name: string, description: string|null}[]}}} context
 * @param {object[]} runtimes the `/api/runtimes` views; only available ones are offered
 * @param {{runtimeId?: string}} options the runtime to preselect
 * @returns {Promise<object|null>} the created worker, or null when cancelled
 */
export async function openCreateWorker(context, runtimes, { runtimeId = null } = {}) {
  const available = runtimes.filter((runtime) => runtime.status === "available");
  const chosen = available.find((runtime) => runtime.runtime_id === runtimeId) ?? available[0];
  const profiles = context.workspace?.profiles ?? [];
  const worker = await formDialog({
    title: "New worker",
    submitLabel: "Create",
    describe: available.length
      ? null
      : "No runtime is available now; the Runtimes view says why.",
    fields: [
      {
        name: "runtime",
        label: "Runtime",
        kind: "select",
        value: chosen?.runtime_id,
        options: available.map((runtime) => ({
          value: runtime.runtime_id,
          label: runtime.display_name,
        })),
      },
      {
        name: "profile",
        label: "Profile",
        kind: "select",
        value: defaultProfile(profiles),
        options: profiles.map((profile) => ({ value: profile.name, label: profile.name })),
        hintFor: (name) => profiles.find((profile) => profile.name === name)?.description,
      },
      { name: "display_name", label: "Display name", kind: "text", required: true },
      {
        name: "capabilities",
        label: "Capabilities",
        kind: "checklist",
        optionsFor: (values) => toolsOf(available, values.runtime),
        empty: "This runtime offers no tools.",
        hint: "The tools the worker may use, among those its runtime offers.",
      },
      {
        name: "initial_input",
        label: "First message (optional)",
        kind: "textarea",
        rows: 3,
        hint: "Sent to the worker as soon as it exists.",
      },
    ],
    submit: (values) => create(values),
  });
  if (worker) {
    const runtime = encodeURIComponent(worker.runtime_id);
    window.location.hash = `#/workers/${runtime}/${encodeURIComponent(worker.worker_id)}`;
  }
  return worker;
}

/** The create request for the dialog's values; resolves to the new worker. */
async function create(values) {
  const displayName = values.display_name.trim();
  if (!values.runtime) {
    throw new ApiError(0, "runtime_unavailable", "no runtime is available to create a worker on");
  }
  if (!displayName) {
    throw new ApiError(0, "invalid_request", "a worker needs a display name", {
      field: "display_name",
    });
  }
  const body = {
    display_name: displayName,
    profile: values.profile || DEFAULT_PROFILE,
    requested_capabilities: values.capabilities.map((name) => ({ name })),
  };
  if (values.initial_input.trim()) body.initial_input = values.initial_input;
  const path = `/api/runtimes/${encodeURIComponent(values.runtime)}/workers`;
  try {
    return (await api.post(path, body)).worker;
  } catch (error) {
    throw withOffered(error);
  }
}

/** The tools the runtime `runtimeId` offers, as checklist options. */
function toolsOf(runtimes, runtimeId) {
  const runtime = runtimes.find((item) => item.runtime_id === runtimeId);
  return (runtime?.requestable_tools ?? []).map((name) => ({ value: name, label: name }));
}

function defaultProfile(profiles) {
  const names = profiles.map((profile) => profile.name);
  return names.includes(DEFAULT_PROFILE) ? DEFAULT_PROFILE : names[0];
}

/** A capability refusal also says what the runtime does offer. */
function withOffered(error) {
  const offered = error instanceof ApiError ? error.details?.offered : undefined;
  if (error.code !== "unsupported_operation" || !Array.isArray(offered)) return error;
  const what = offered.length ? `it offers ${offered.join(", ")}` : "it offers none";
  return new ApiError(error.status, error.code, `${error.message} (${what})`, error.details);
}
