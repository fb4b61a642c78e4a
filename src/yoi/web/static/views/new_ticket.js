// The New ticket dialog: a title, a description and relations to other tickets.
//
// It calls `POST /api/tickets`, then `POST /api/tickets/{id}/relations` for
// each related ticket; the relation kinds are the ones the board's answer
// lists. Any refusal shows in the dialog as the API gave it. A ticket that was
// created before a relation was refused is not created again on a retry: the
// retry adds the relations still missing.
import { api, ApiError, ticketPath } from "../lib/api.js";
import { formDialog } from "../lib/dialog.js";
import { humanize } from "./ticket.js";

/**
 * Ask for a new ticket and create it; `kinds` are the relation kinds the API takes.
 * Resolves to the created ticket (`{id, title, ...}`), or null when cancelled.
 */
export async function openNewTicket(kinds) {
  const made = { ticket: null, related: new Set() };
  return formDialog({
    title: "New ticket",
    submitLabel: "Create ticket",
    fields: [
      { name: "title", label: "Title", kind: "text", required: true },
      {
        name: "body",
        label: "Description",
        kind: "textarea",
        rows: 6,
        hint: "Markdown: what the ticket asks for and how to tell it is done.",
      },
      {
        name: "kind",
        label: "Relation",
        kind: "select",
        value: "",
        options: [
          { value: "", label: "none" },
          ...kinds.map((kind) => ({ value: kind, label: humanize(kind) })),
        ],
      },
      {
        name: "targets",
        label: "Related tickets",
        kind: "text",
        placeholder: "ticket ids, separated by commas",
        hint: "This ticket gets the relation above to each of them.",
      },
    ],
    submit: (values) => create(values, made),
  });
}

async function create(values, made) {
  const title = values.title.trim();
  const targets = [...new Set(values.targets.split(",").map((id) => id.trim()).filter(Boolean))];
  if (!title) {
    throw new ApiError(0, "invalid_request", "a ticket needs a title", { field: "title" });
  }
  if (targets.length > 0 && !values.kind) {
    throw new ApiError(0, "invalid_request", "choose the relation the related tickets have", {
      field: "kind",
    });
  }
  if (made.ticket === null) {
    for (const target of targets) await api.get(ticketPath(target)); // refused before creating
    made.ticket = (await api.post("/api/tickets", { title, body: values.body })).ticket;
  }
  for (const target of targets) {
    if (made.related.has(target)) continue;
    try {
      await api.post(ticketPath(made.ticket.id, "/relations"), { kind: values.kind, target });
    } catch (error) {
      const message = `${made.ticket.id} was created, but not its relation to ${target}: ${error.message}`;
      throw new ApiError(error.status ?? 0, error.code ?? "error", message, error.details ?? {});
    }
    made.related.add(target);
  }
  return made.ticket;
}
