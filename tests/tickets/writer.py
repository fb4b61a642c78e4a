"""One writer of the concurrency test, run as its own process: ``python writer.py MODE ...``.

``cli WORKSPACE NAME COUNT TICKET...`` runs ``yoi ticket`` in this process
COUNT times (the real command, without paying an interpreter start for
each); ``api URL NAME COUNT TICKET...`` posts to a running ``yoi serve``.
Every tenth mutation creates a ticket, the others comment on the given
tickets in turn with the body ``NAME-N``. It waits for a line on stdin
before its first write, so every writer starts at once.
"""

from __future__ import annotations

import sys

import httpx

from yoi.cli.app import app


def _cli(workspace: str, name: str, count: int, tickets: list[str]) -> None:
    for number in range(count):
        base = ["ticket", "--workspace", workspace, "--author", name, "--json"]
        if number % 10 == 0:
            args = [*base, "create", "--title", f"{name} ticket {number}"]
        else:
            ticket = tickets[number % len(tickets)]
            args = [*base, "comment", ticket, "--message", f"{name}-{number}"]
        try:
            app.main(args, prog_name="yoi", standalone_mode=False)
        except SystemExit as exit:
            if exit.code not in (0, None):
                raise


def _api(url: str, name: str, count: int, tickets: list[str]) -> None:
    with httpx.Client(base_url=url, timeout=30) as http:
        for number in range(count):
            if number % 10 == 0:
                body = {"title": f"{name} ticket {number}", "author": name}
                http.post("/api/tickets", json=body).raise_for_status()
                continue
            ticket = tickets[number % len(tickets)]
            body = {"body": f"{name}-{number}", "author": name}
            http.post(f"/api/tickets/{ticket}/comments", json=body).raise_for_status()


def main(argv: list[str]) -> None:
    mode, target, name, count, *tickets = argv
    sys.stdin.readline()
    run = _cli if mode == "cli" else _api
    run(target, name, int(count), tickets)


if __name__ == "__main__":
    main(sys.argv[1:])
