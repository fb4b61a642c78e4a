// The backend's REST API, as the console calls it: JSON in and out, errors as ApiError.
//
// Every failure becomes an ApiError with a stable `code`: the backend's own
// (`worker_busy`, `ticket_blocked`, `runtime_unavailable`, ...), or one of
// the console's for what never reached an answer:
// - `request_timeout`: no answer within the timeout;
// - `network_error`: the backend could not be reached;
// - `bad_response`: an answer that was not the JSON expected.
// A 401 also fires the window event `yoi:unauthorized`, which shows the login form.

export const DEFAULT_TIMEOUT_MS = 15_000;

export class ApiError extends Error {
  constructor(status, code, message, details = {}) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

function urlOf(path, params) {
  const url = new URL(path, window.location.origin);
  for (const [key, value] of Object.entries(params || {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(key, value);
  }
  return url.pathname + url.search;
}

/** One request; resolves to the parsed JSON body (or null for 204), rejects with ApiError. */
export async function request(method, path, { body, params, timeout = DEFAULT_TIMEOUT_MS } = {}) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeout);
  const init = { method, credentials: "same-origin", signal: controller.signal, headers: {} };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(urlOf(path, params), init);
  } catch (error) {
    if (controller.signal.aborted) {
      throw new ApiError(0, "request_timeout", `the backend did not answer within ${timeout / 1000} s`);
    }
    throw new ApiError(0, "network_error", "the backend cannot be reached");
  } finally {
    clearTimeout(timer);
  }
  if (response.status === 204) return null;
  let data = null;
  try {
    data = await response.json();
  } catch {
    if (!response.ok) throw new ApiError(response.status, "bad_response", `HTTP ${response.status}`);
    throw new ApiError(response.status, "bad_response", "the answer was not JSON");
  }
  if (!response.ok) {
    const error = data?.error || {};
    if (response.status === 401) window.dispatchEvent(new CustomEvent("yoi:unauthorized"));
    throw new ApiError(
      response.status,
      error.code || "error",
      error.message || `HTTP ${response.status}`,
      error.details || {},
    );
  }
  return data;
}

export const api = {
  get: (path, params, options = {}) => request("GET", path, { ...options, params }),
  post: (path, body = {}, options = {}) => request("POST", path, { ...options, body }),
};

/** The path of a worker's routes: ids are validated by the backend, escaped here anyway. */
export function workerPath(runtimeId, workerId, suffix = "") {
  const runtime = encodeURIComponent(runtimeId);
  const worker = encodeURIComponent(workerId);
  return `/api/runtimes/${runtime}/workers/${worker}${suffix}`;
}

/** The path of a ticket's routes. */
export function ticketPath(ticketId, suffix = "") {
  return `/api/tickets/${encodeURIComponent(ticketId)}${suffix}`;
}
