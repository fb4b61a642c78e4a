"""yoi's terminal UI: a Textual client of the backend API (``yoi tui``)."""
