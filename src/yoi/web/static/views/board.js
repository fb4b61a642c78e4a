// The ticket board: a column per state, a card per ticket, the open ticket in a drawer.
//
// The board loads `GET /api/board` and loads it again whenever the ticket feed
// (`watchTickets`) says something changed, whoever changed it: this page, the
// CLI, git or an editor. `#/board/<id>` opens that ticket's drawer; `update`
// opens and closes it without building the board again. The columns, their
// order and their names are the API's: the board knows no state of its own.
// The orchestrator's status (`GET /api/orchestrator`) is loaded with it, again
// at each event of the orchestrator's stream (a run's phase, a gate) and on a
// slow timer (usage grows without events): it adds each run's phase, usage and
// gate and each queued ticket's reason to the cards, and its problems above the
// columns.
import { api } from "../lib/api.js";
import { errorLine, h, replace } from "../lib/dom.js";
import { watchOrchestrator, watchTickets } from "../lib/socket.js";
import { openNewTicket } from "./new_ticket.js";
import { STATUS_EVERY_MS, Status, TicketRun, cardRun, fetchStatus, statusNotes } from "./orchestrator.js";
import { humanize, openTicket } from "./ticket.js";

const LIVE_TEXT = {
  connecting: "Connecting…",
  open: "Live",
  retrying: "Reconnecting…",
  closed: "Not live",
};

export function mount(main, params) {
  const board = new Board(main);
  board.open(params.ticketId);
  return {
    update: (next) => board.open(next.ticketId),
    unmount: () => board.unmount(),
  };
}

class Board {
  constructor(main) {
    this.main = main;
    this.drawer = null;
    this.loading = false;
    this.again = false;
    this.gone = false;
    this.columns = new Map(); // state -> its column, made as the API first lists it
    this.relationKinds = [];
    this.board = null;
    this.status = new Status();
    this.statusLoad = { loading: false, again: false };
    this.runPanel = null;
    this.cardErrors = new Map(); // ticket id -> the error of its card's last button
    this.errors = h("div", { class: "board-errors" });
    this.orchestrator = h("div", { class: "board-orchestrator", dataset: { role: "orchestrator" } });
    this.notes = h("div", { class: "board-notes" });
    this.live = h("span", {
      class: "live",
      dataset: { role: "live", state: "connecting" },
      text: LIVE_TEXT.connecting,
    });
    this.lanes = h("div", {
      class: "board-columns",
      role: "region",
      "aria-label": "Ticket columns",
      tabindex: "0",
    });
    const create = h("button", {
      type: "button",
      class: "primary new-ticket",
      text: "New ticket",
      onclick: () => this.create(),
    });
    this.root = h(
      "div",
      { class: "board-view" },
      h(
        "div",
        { class: "board-main" },
        h("div", { class: "board-head" }, h("h1", { text: "Board" }), this.live, create),
        this.errors,
        this.orchestrator,
        this.notes,
        this.lanes,
      ),
    );
    main.append(this.root);
    this.onKey = (event) => this.key(event);
    document.addEventListener("keydown", this.onKey);
    this.refresh();
    this.refreshStatus();
    this.timer = setInterval(() => this.refreshStatus(), STATUS_EVERY_MS);
    this.feed = watchTickets(
      (ids) => this.changed(ids),
      (state) => this.showLive(state),
    );    this.runs = watchOrchestrator(() => this.refreshStatus());
  }

  unmount() {
    this.gone = true;
    clearInterval(this.timer);
    this.feed.close();
    this.runs.close();
    document.removeEventListener("keydown", this.onKey);
    this.drawer?.destroy();
    this.drawer = null;
  }

  /** The feed says these tickets changed (null: any of them). */
  changed(ids) {
    this.refresh();
    this.refreshStatus();
    if (this.drawer && (ids === null || ids.includes(this.drawer.ticketId))) this.drawer.reload();
  }

  showLive(state) {
    this.live.dataset.state = state;
    this.live.textContent = LIVE_TEXT[state] || state;
  }

  /** Load the board; a change during a load makes one more load after it, not one per change. */
  async refresh() {
    if (this.loading) {
      this.again = true;
      return;
    }
    this.loading = true;
    try {
      do {
        this.again = false;
        try {
          const answer = await api.get("/api/board");
          if (this.gone) return;
          replace(this.errors);
          this.board = answer.board;
          this.render(answer.board);
        } catch (error) {
          if (this.gone) return;
          replace(this.errors, errorLine(error));
        }
      } while (this.again && !this.gone);
    } finally {
      this.loading = false;
    }
  }

  /** Load the orchestrator's status, one load at a time as the board does. */
  async refreshStatus() {
    const load = this.statusLoad;
    if (load.loading) {
      load.again = true;
      return;
    }
    load.loading = true;
    try {
      do {
        load.again = false;
        let error = null;
        try {
          this.status = await fetchStatus();
        } catch (failure) {
          error = failure;
        }
        if (this.gone) return;
        replace(this.orchestrator, statusNotes(this.status, error));
        this.runPanel?.update(this.status);
        if (this.board) this.render(this.board);
      } while (load.again && !this.gone);
    } finally {
      load.loading = false;
    }
  }

  /** A card's button sent `send()`: its error stays on the card until its next button. */
  async act(ticketId, send, button) {
    button.disabled = true;
    this.cardErrors.delete(ticketId);
    try {
      await send();
    } catch (error) {
      this.cardErrors.set(ticketId, error);
    }
    if (this.gone) return;
    button.disabled = false;
    this.refresh();
    this.refreshStatus();
    this.drawer?.reload();
  }

  render(board) {
    const focused = document.activeElement?.closest?.(".card")?.dataset.ticketId ?? null;
    const hadFocus = focused !== null && this.lanes.contains(document.activeElement);
    let total = 0;
    this.relationKinds = board.relation_kinds || [];
    for (const data of board.columns) {
      const entry = this.column(data);
      total += data.count;
      entry.count.textContent = String(data.count);
      const cards = data.cards.map((card) =>
        cardElement(card, this.drawer?.ticketId, this.cardExtras(card)),
      );
      const hidden = data.count - data.cards.length;
      replace(
        entry.list,
        cards.length > 0 ? cards : h("li", { class: "empty", text: "No tickets" }),
        hidden > 0 ? h("li", { class: "hint", text: `${hidden} more not shown` }) : null,
      );
    }
    const expanded = Boolean(this.notes.querySelector("details.board-invalid")?.open);
    const invalid = invalidNote(board.invalid_records || [], expanded);
    replace(this.notes, total === 0 ? emptyHint() : null, invalid);
    if (hadFocus) this.cardLink(focused)?.focus();
  }

  /** What a card shows beyond its ticket: its buttons, its run or its wait, its last error. */
  cardExtras(card) {
    const act = (send, button) => this.act(card.id, send, button);
    const error = this.cardErrors.get(card.id);
    return [
      cardRun(card, this.status, act),
      cardMoves(card, act),
      error ? h("div", { class: "card-errors" }, errorLine(error)) : null,
    ];
  }

  /** Show the drawer of `ticketId`, or none. */
  open(ticketId) {
    if ((this.drawer?.ticketId ?? null) === (ticketId ?? null)) return;
    const closing = this.drawer;
    if (closing) {
      const wasInside = closing.element.contains(document.activeElement);
      closing.destroy();
      this.drawer = null;
      this.runPanel = null;
      if (wasInside || document.activeElement === document.body) {
        (this.cardLink(closing.ticketId) || this.main).focus();
      }
    }
    if (ticketId) {
      const changed = () => {
        this.cardErrors.delete(ticketId); // a change made in the drawer outdates the card's error
        this.refresh();
        this.refreshStatus();
      };
      const panel = new TicketRun(ticketId, {
        onChanged: () => {
          changed();
          this.drawer?.reload();
        },
      });
      panel.update(this.status);
      this.runPanel = panel;
      this.drawer = openTicket(ticketId, {
        onClose: () => this.close(),
        onChanged: changed,
        extra: panel,
      });
      this.root.append(this.drawer.element);
      this.drawer.focus();
    }
    this.root.classList.toggle("has-drawer", Boolean(this.drawer));
    this.markSelected();
  }

  close() {
    window.location.hash = "#/board";
  }

  /** The column of `data.state`, made (in the API's order) the first time it is listed. */
  column(data) {
    let entry = this.columns.get(data.state);
    if (!entry) {
      entry = column(data.state, data.label);
      this.columns.set(data.state, entry);
      this.lanes.append(entry.element);
    }
    return entry;
  }

  /** Ask for a new ticket; once made, its drawer opens. */
  async create() {
    const ticket = await openNewTicket(this.relationKinds);
    if (ticket) {
      this.refresh();
      window.location.hash = `#/board/${encodeURIComponent(ticket.id)}`;
    }
  }

  key(event) {
    if (event.key !== "Escape" || !this.drawer || event.defaultPrevented) return;
    if (document.querySelector("dialog[open]")) return; // the dialog takes its own Escape
    if (event.target instanceof Element && event.target.closest("#companion")) return;
    event.preventDefault();
    this.close();
  }

  cardLink(ticketId) {
    const card = this.lanes.querySelector(`.card[data-ticket-id="${CSS.escape(ticketId)}"]`);
    return card?.querySelector("a.card-link") ?? null;
  }

  markSelected() {
    for (const card of this.lanes.querySelectorAll(".card")) {
      const open = card.dataset.ticketId === this.drawer?.ticketId;
      if (open) card.setAttribute("aria-current", "true");
      else card.removeAttribute("aria-current");
    }
  }
}

/** A state's column: a heading with the count, and the list its cards go in. */
function column(state, label) {
  const headingId = `column-${state}`;
  const count = h("span", { class: "count", dataset: { role: "count" }, text: "0" });
  const list = h("ol", { class: "cards" });
  const element = h(
    "section",
    { class: "column", dataset: { state }, "aria-labelledby": headingId },
    h(
      "h2",
      { id: headingId },
      h("span", { class: "state-name", text: label }),
      " ",
      count,
    ),
    list,
  );
  return { element, count, list };
}

function cardElement(card, openId, extras) {
  const current = card.id === openId ? "true" : null;
  const queuedBy = card.queued_by
    ? h("p", {
        class: "card-queued",
        dataset: { role: "queued-by" },
        text: `queued by ${card.queued_by}`,
      })
    : null;
  return h(
    "li",
    {},
    h(
      "article",
      { class: "card", dataset: { ticketId: card.id }, "aria-current": current },
      h(
        "div",
        { class: "card-top" },
        h("code", { class: "card-id", text: card.id }),
        blockerBadge(card.blockers || []),
      ),
      h("a", { class: "card-link", href: `#/board/${encodeURIComponent(card.id)}` }, card.title),
      queuedBy,
      cardFlags(card),
      extras,
    ),
  );
}

/** The move a card offers without opening its drawer, by state; shown when the API lists it. */
const CARD_MOVES = { ready: "queue", queued: "planning", inprogress: "planning" };

function cardMoves(card, act) {
  const buttons = (card.actions || [])
    .filter((action) => action.name === CARD_MOVES[card.state])
    .map((action) =>
      h("button", {
        type: "button",
        class: `card-action ${action.emphasis || ""}`.trim(),
        dataset: { action: action.name },
        disabled: action.blocked,
        title: action.reason || null,
        text: action.label,
        onclick: (event) => act(() => api.post(action.endpoint, action.body), event.currentTarget),
      }),
    );
  return buttons.length > 0 ? h("div", { class: "card-actions" }, buttons) : null;
}

function blockerBadge(blockers) {
  if (blockers.length === 0) return null;
  const names = blockers.map((blocker) => `${blocker.ticket_id} (${humanize(blocker.state)})`);
  return h("span", {
    class: "badge blocked",
    dataset: { role: "blocked" },
    title: `Blocked by ${names.join(", ")}`,
    text: `blocked by ${blockers.length}`,
  });
}

function cardFlags(card) {
  const flags = [
    card.priority ? h("span", { class: "badge", text: `priority ${card.priority}` }) : null,
    card.assignee ? h("span", { class: "badge", text: card.assignee }) : null,
    ...(card.risk_flags || []).map((flag) => h("span", { class: "badge risk-flag", text: flag })),
  ].filter(Boolean);
  return flags.length > 0 ? h("div", { class: "card-flags" }, flags) : null;
}

function emptyHint() {
  return h(
    "div",
    { class: "board-empty", dataset: { role: "empty" } },
    h("p", { text: "No tickets yet. Create one with New ticket, or from a terminal:" }),
    h("pre", {}, h("code", { text: 'yoi ticket create --title "Title"' })),
    h(
      "p",
      {},
      "or through the API: ",
      h("code", { text: "POST /api/tickets" }),
      " with a title and a body.",
    ),
  );
}

/** The records the store could not read; `open` keeps it expanded across reloads. */
function invalidNote(records, open) {
  if (records.length === 0) return null;
  const count = records.length;
  const what = count === 1 ? "1 ticket record" : `${count} ticket records`;
  return h(
    "details",
    { class: "board-invalid", dataset: { role: "invalid" }, open },
    h("summary", { text: `${what} could not be read; run yoi ticket doctor` }),
    h(
      "ul",
      { class: "plain-list" },
      records.map((record) => h("li", {}, h("code", { text: record.id }), ` ${record.problem}`)),
    ),
  );
}
