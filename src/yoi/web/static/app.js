// The console's shell: which view shows, the Companion panel, the login form.
//
// Views live in the URL's hash, so reloads and the back button work:
//   #/board                      the ticket board
//   #/board/<ticket id>          the board with that ticket's drawer open
//   #/workers                    runtimes and their workers
//   #/workers/<runtime>/<worker> one worker's console
//   #/runtimes                   runtimes: capabilities, status, diagnostics
// A view module exports `mount(main, params, context)` returning
// `{unmount(), update?(params)}`; `update` lets a view take a new hash
// (another ticket) without being mounted again.
import { api, ApiError } from "./lib/api.js";
import { errorLine, h, replace } from "./lib/dom.js";

const VIEWS = {
  board: () => import("./views/board.js"),
  workers: () => import("./views/workers.js"),
  console: () => import("./views/console.js"),
  runtimes: () => import("./views/runtimes.js"),
};

const context = { workspace: null };
let current = { name: null, view: null };
let companion = null;

/** The view and its parameters named by a hash. */
export function route(hash) {
  const parts = hash.replace(/^#\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
  if (parts[0] === "workers" && parts.length >= 3) {
    return { name: "console", params: { runtimeId: parts[1], workerId: parts[2] } };
  }
  if (parts[0] === "workers") return { name: "workers", params: {} };
  if (parts[0] === "runtimes") return { name: "runtimes", params: {} };
  return { name: "board", params: { ticketId: parts[0] === "board" ? parts[1] || null : null } };
}

async function show() {
  const main = document.getElementById("main");
  const { name, params } = route(window.location.hash);
  for (const link of document.querySelectorAll("nav.views a")) {
    const active = link.dataset.view === (name === "console" ? "workers" : name);
    if (active) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  if (current.name === name && current.view?.update) {
    current.view.update(params);
    return;
  }
  current.view?.unmount?.();
  current = { name, view: null };
  try {
    const module = await VIEWS[name]();
    if (current.name !== name) return; // the hash moved on while loading
    replace(main);
    main.dataset.view = name;
    current.view = module.mount(main, params, context);
  } catch (error) {
    replace(main, errorLine(error));
  }
}

async function toggleCompanion(open) {
  const panel = document.getElementById("companion");
  const button = document.getElementById("companion-toggle");
  const opening = open ?? panel.hidden;
  panel.hidden = !opening;
  button.setAttribute("aria-expanded", String(opening));
  document.body.classList.toggle("companion-open", opening);
  if (opening && companion === null) {
    const module = await import("./views/companion.js");
    companion = module.mount(panel, context, { close: () => toggleCompanion(false) });
  }
  if (opening) companion?.focus?.();
  else button.focus();
}

function showWorkspace(workspace) {
  context.workspace = workspace;
  // A workspace named like the product (the yoi repository itself) is not named twice.
  const brand = document.querySelector(".brand").textContent.trim();
  const named = workspace.name !== brand;
  const label = document.getElementById("workspace-name");
  label.textContent = named ? workspace.name : "";
  label.hidden = !named;
  document.title = named ? `${workspace.name} · ${brand}` : brand;
  const badge = document.getElementById("model-badge");
  badge.hidden = false;
  badge.textContent = workspace.offline ? "offline model" : workspace.model;
  badge.classList.toggle("offline", workspace.offline);
  badge.title = workspace.offline
    ? "No model is configured: the offline scripted model answers"
    : `Model: ${workspace.model}`;
}

function showLogin() {
  if (current.name === "login") return; // a refused sign-in shows its error in the form
  const main = document.getElementById("main");
  current.view?.unmount?.();
  current = { name: "login", view: null };
  const errors = h("div");
  const input = h("input", {
    id: "login-token",
    type: "password",
    name: "token",
    autocomplete: "current-password",
    required: true,
  });
  const form = h(
    "form",
    {
      class: "login",
      onsubmit: async (event) => {
        event.preventDefault();
        replace(errors);
        try {
          await api.post("/api/login", { token: input.value });
          window.location.reload();
        } catch (error) {
          replace(errors, errorLine(error));
        }
      },
    },
    h("h1", { text: "Sign in to this yoi backend" }),
    h("p", { text: "This backend needs its token (the value of YOI_BACKEND_TOKEN where it runs)." }),
    h("label", { for: "login-token", text: "Backend token" }),
    input,
    errors,
    h("button", { type: "submit", class: "primary", text: "Sign in" }),
  );
  replace(main, form);
  input.focus();
}

async function boot() {
  window.addEventListener("yoi:unauthorized", showLogin);
  document.getElementById("companion-toggle").addEventListener("click", () => toggleCompanion());
  document.addEventListener("keydown", (event) => {
    if (event.altKey && (event.key === "c" || event.key === "C")) {
      event.preventDefault();
      toggleCompanion();
    }
  });
  try {
    showWorkspace((await api.get("/api/workspace")).workspace);
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return; // the login form shows
    replace(document.getElementById("main"), errorLine(error));
    return;
  }
  window.addEventListener("hashchange", show);
  if (!window.location.hash) window.location.replace("#/board");
  else show();
}

boot();
