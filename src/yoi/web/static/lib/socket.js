// WebSockets that come back: the ticket change feed and the worker event streams.
//
// A LiveSocket reconnects after any close it did not ask for, waiting
// 0.25 s, then twice as long each time up to 5 s. Its state is one of
// "connecting", "open", "retrying" (waiting to reconnect) and "closed"
// (closed by the page). Frames arrive parsed; a frame that is not JSON is
// dropped.

const FIRST_RETRY_MS = 250;
const MAX_RETRY_MS = 5000;

export class LiveSocket {
  /**
   * @param {() => string} path the path and query to connect to, asked again on each connect
   * @param {{onFrame: (frame: object) => void, onState?: (state: string) => void}} handlers
   */
  constructor(path, { onFrame, onState = () => {} }) {
    this.path = path;
    this.onFrame = onFrame;
    this.onState = onState;
    this.state = "closed";
    this.socket = null;
    this.retryMs = FIRST_RETRY_MS;
    this.timer = null;
    this.stopped = true;
  }

  start() {
    this.stopped = false;
    this.connect();
    return this;
  }

  close() {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.socket) this.socket.close(1000, "the page closed the stream");
    this.socket = null;
    this.setState("closed");
  }

  /** Drop the connection now and connect again at once (for a resync). */
  restart() {
    if (this.stopped) return;
    clearTimeout(this.timer);
    const old = this.socket;
    this.socket = null;
    if (old) old.close(1000, "resync");
    this.connect();
  }

  connect() {
    const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(`${scheme}//${window.location.host}${this.path()}`);
    this.socket = socket;
    this.setState("connecting");
    socket.addEventListener("open", () => {
      if (this.socket !== socket) return;
      this.retryMs = FIRST_RETRY_MS;
      this.setState("open");
    });
    socket.addEventListener("message", (message) => {
      if (this.socket !== socket) return;
      let frame;
      try {
        frame = JSON.parse(message.data);
      } catch {
        return;
      }
      this.onFrame(frame);
    });
    socket.addEventListener("close", () => {
      if (this.socket !== socket || this.stopped) return;
      this.socket = null;
      this.setState("retrying");
      this.timer = setTimeout(() => this.connect(), this.retryMs);
      this.retryMs = Math.min(this.retryMs * 2, MAX_RETRY_MS);
    });
  }

  setState(state) {
    if (this.state === state) return;
    this.state = state;
    this.onState(state);
  }
}

/** Diagnostics after which the stream starts over from a fresh snapshot. */
const RESYNC_CODES = new Set(["cursor_expired", "invalid_cursor"]);

/**
 * One worker's events through the backend, resumed by cursor after any drop.
 *
 * Handlers:
 * - `snapshot(event, frame)`: a fresh start: render everything from this snapshot
 *   (the first connection, or after the backend said the cursor is too old);
 * - `resumed(event, frame)`: the snapshot of a reconnection that resumes by
 *   cursor: only status may be taken from it; the events after the cursor follow;
 * - `event(frame)`: each event after the snapshot, in order, never twice;
 * - `diagnostic(frame)`: `{code, message}` the backend sent before closing;
 * - `state(state)`: the LiveSocket state.
 */
export class WorkerStream {
  constructor(runtimeId, workerId, handlers) {
    this.runtimeId = runtimeId;
    this.workerId = workerId;
    this.handlers = handlers;
    this.cursor = null;
    this.lastSeq = null;
    const base = `/api/runtimes/${encodeURIComponent(runtimeId)}/workers/${encodeURIComponent(workerId)}/events/ws`;
    this.socket = new LiveSocket(
      () => (this.cursor ? `${base}?cursor=${encodeURIComponent(this.cursor)}` : base),
      { onFrame: (frame) => this.take(frame), onState: (state) => handlers.state?.(state) },
    );
  }

  start() {
    this.socket.start();
    return this;
  }

  close() {
    this.socket.close();
  }

  take(frame) {
    if (frame.kind === "diagnostic") {
      if (RESYNC_CODES.has(frame.code)) {
        this.cursor = null;
        this.lastSeq = null;
      }
      this.handlers.diagnostic?.(frame);
      return;
    }
    if (frame.kind !== "event") return;
    if (frame.event?.type === "snapshot") {
      if (this.cursor === null) {
        this.cursor = frame.cursor;
        this.lastSeq = frame.seq;
        this.handlers.snapshot?.(frame.event, frame);
      } else {
        this.handlers.resumed?.(frame.event, frame);
      }
      return;
    }
    if (this.lastSeq !== null && frame.seq <= this.lastSeq) return;
    this.lastSeq = frame.seq;
    this.cursor = frame.cursor;
    this.handlers.event?.(frame);
  }
}

/**
 * The ticket change feed: `onChange(ticketIds | null)` at each change (null: reload all),
 * and once on every (re)connection, since changes may have been missed while away.
 */
export function watchTickets(onChange, onState) {
  return new LiveSocket(() => "/api/tickets/events/ws", {
    onFrame: (frame) => {
      if (frame.kind === "tickets") onChange(frame.ticket_ids ?? null, frame.revision);
    },
    onState,
  }).start();
}

/** Diagnostics after which the orchestrator's stream is not tried again (the timer stays). */
const FINAL_ORCHESTRATOR_CODES = new Set(["observation_only"]);

/**
 * The orchestrator's event stream (`/api/orchestrator/events/ws`): `onChange()` on its
 * snapshot (each (re)connection: changes may have been missed while away) and on each
 * transition of a run (a phase, a gate opened or decided). Resumes from no cursor: the
 * snapshot that opens each connection is the catch-up.
 */
export function watchOrchestrator(onChange) {
  const socket = new LiveSocket(() => "/api/orchestrator/events/ws", {
    onFrame: (frame) => {
      if (frame.kind === "event") onChange(frame.event);
      else if (frame.kind === "diagnostic" && FINAL_ORCHESTRATOR_CODES.has(frame.code)) {
        socket.close();
      }
    },
  });
  return socket.start();
}
