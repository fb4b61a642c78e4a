"""The ticket board in a browser: columns, cards, the drawer and its actions, live changes.

Tickets are seeded through the workspace's real :class:`~yoi.tickets.TicketStore`
(or changed by ``python -m yoi ticket`` in a subprocess); the page only ever
learns of them through ``yoi serve``.
"""

from __future__ import annotations

import re
from pathlib import Path

from playwright.async_api import FloatRect, Locator, Page, WebSocketRoute, expect
from tests.cli.rig import cli_env, run_yoi
from tests.web.rig import DEADLINE, Console, open_console

from yoi.tickets import RelationKind, State, TicketStore
from yoi.tickets.inputs import MAX_TEXT_BYTES

SEEDER = "ann"
LONG = DEADLINE * 1000
"""For what waits on another process (the CLI, then the backend's file watch), in ms."""

HOSTILE = "\n\n".join(
    (
        "# Hostile",
        "<script>window.__pwned = 1</script>",
        '<img src=x onerror="window.__pwned=2">',
        "[click](javascript:window.__pwned=3)",
        '<a href="javascript:window.__pwned=4">raw link</a>',
        "[spaced](  JaVaScRiPt:window.__pwned=5)",
        "[the docs](https://example.com/docs)",
    )
)


def column(page: Page, state: str) -> Locator:
    return page.locator(f"section.column[data-state={state}]")


def card(scope: Page | Locator, ticket_id: str) -> Locator:
    return scope.locator(f"article.card[data-ticket-id='{ticket_id}']")


def drawer(page: Page) -> Locator:
    return page.locator("aside.drawer")


async def expect_counts(page: Page, **counts: int) -> None:
    for state, count in counts.items():
        await expect(column(page, state).locator("[data-role=count]")).to_have_text(str(count))


def moved(store: TicketStore, title: str, *states: State, body: str = "") -> str:
    """A new ticket, moved through ``states`` in order; its id."""
    ticket_id = store.create(title, body, author=SEEDER).id
    for state in states:
        summary = f"{title}: what it asks for" if state is State.READY else None
        store.move(ticket_id, state, author=SEEDER, summary=summary)
    return ticket_id


async def seeded(console: Console) -> None:
    """Show what was just written to the store (the page opened on an empty board)."""
    await console.page.reload()
    await expect(console.page.locator("[data-role=live][data-state=open]")).to_be_visible()


async def test_queue_a_ready_ticket_and_see_queue_refused_for_a_blocked_one(
    tmp_path: Path,
) -> None:
    async with open_console(tmp_path) as console:
        page = console.page
        await expect(page.locator("[data-role=empty]")).to_contain_text("yoi ticket create")
        store = console.tickets
        schema = moved(store, "Write the schema")
        api = moved(store, "Build the API on the schema", State.READY)
        store.add_relation(api, RelationKind.DEPENDS_ON, schema, author=SEEDER)
        login = moved(store, "Fix the login page", State.READY)
        moved(store, "Ship the installer", State.READY, State.QUEUED, State.INPROGRESS)
        moved(store, "Write the changelog", State.READY, State.QUEUED, State.INPROGRESS, State.DONE)
        broken = store.root / "00001M808ZZZZ"
        broken.mkdir()
        (broken / "item.md").write_text("no front matter here", encoding="utf-8")
        await seeded(console)

        await expect(page.locator("[data-role=empty]")).to_have_count(0)
        invalid = page.locator("[data-role=invalid]")
        await expect(invalid).to_contain_text("1 ticket record could not be read")
        await invalid.locator("summary").click()
        await expect(invalid.get_by_text("00001M808ZZZZ")).to_be_visible()
        await expect_counts(page, planning=1, ready=2, queued=0, inprogress=1, done=1, closed=0)
        titles = column(page, "planning").locator("h2")
        await expect(titles).to_contain_text("Planning")
        blocked = card(column(page, "ready"), api).locator(".badge[data-role=blocked]")
        await expect(blocked).to_have_text("blocked by 1")
        await expect(blocked).to_have_attribute("title", re.compile(schema))
        await expect(card(page, login).locator(".badge[data-role=blocked]")).to_have_count(0)
        await console.screenshot("board")

        # Open a card from the keyboard, queue it: it moves, says who queued it, counts follow.
        await card(page, login).get_by_role("link").focus()
        await page.keyboard.press("Enter")
        await expect(page).to_have_url(re.compile(f"#/board/{login}$"))
        panel = page.get_by_role("dialog", name="Fix the login page")
        await expect(panel).to_be_visible()
        await expect(panel.locator("[data-role=state]")).to_have_text("ready")
        await panel.get_by_role("button", name="Queue").click()
        queued = card(column(page, "queued"), login)
        await expect(queued).to_be_visible()
        queued_by = store.get(login).meta.queued_by
        assert queued_by
        await expect(queued.locator("[data-role=queued-by]")).to_have_text(f"queued by {queued_by}")
        await expect_counts(page, ready=1, queued=1)
        await expect(invalid).to_have_attribute("open", "")
        await expect(panel.locator("[data-role=state]")).to_have_text("queued")
        await expect(
            panel.locator("ol.timeline > li[data-kind=state_changed]").last
        ).to_contain_text("queued")
        await expect(panel.get_by_role("button", name="Return to planning")).to_be_visible()
        await expect(panel.get_by_role("button", name="Queue")).to_have_count(0)
        await page.keyboard.press("Escape")
        await expect(drawer(page)).to_have_count(0)
        await expect(page).to_have_url(re.compile("#/board$"))
        await expect(queued.get_by_role("link")).to_be_focused()

        # A ready ticket that depends on one in planning: Queue is disabled and says why.
        await card(page, api).click()
        panel = page.get_by_role("dialog", name="Build the API on the schema")
        queue = panel.get_by_role("button", name="Queue")
        await expect(queue).to_be_disabled()
        note = panel.locator("[data-role=queue-note]")
        await expect(note).to_have_text(f"Blocked by {schema} (planning)")
        await expect(note.get_by_role("link", name=schema)).to_have_attribute(
            "href", f"#/board/{schema}"
        )
        await expect(queue).to_have_accessible_description(f"Blocked by {schema} (planning)")
        await expect(panel.locator("[data-role=blockers]")).to_contain_text(schema)
        relations = panel.locator("[data-role=relations]")
        await expect(relations).to_contain_text(f"depends on → {schema}")
        await console.screenshot("ticket-drawer")
        await panel.get_by_role("button", name="Close drawer").click()
        await expect(drawer(page)).to_have_count(0)
        assert store.get(api).meta.state is State.READY

        # On a phone the columns stack, full width, and nothing scrolls sideways.
        await page.set_viewport_size({"width": 390, "height": 844})
        planning_box = await column(page, "planning").bounding_box()
        ready_box = await column(page, "ready").bounding_box()
        assert planning_box is not None
        assert ready_box is not None
        assert ready_box["y"] >= planning_box["y"] + planning_box["height"]
        assert planning_box["width"] > 300
        assert abs(ready_box["x"] - planning_box["x"]) < 1
        assert await page.evaluate("document.documentElement.scrollWidth") <= 390
        await expect(card(page, api).get_by_role("link")).to_be_in_viewport()
        await console.screenshot("board-phone")
        await card(page, api).get_by_role("link").click()
        panel = page.get_by_role("dialog", name="Build the API on the schema")
        panel_box = await panel.bounding_box()
        assert panel_box is not None
        assert panel_box["width"] == 390
        await console.screenshot("ticket-drawer-phone")
        await panel.get_by_role("button", name="Close drawer").click()
        await expect(card(page, api).get_by_role("link")).to_be_focused()
        assert await console.page_text_leaks() == []


async def test_mark_ready_comment_close_and_see_changes_made_by_the_cli(tmp_path: Path) -> None:
    async with open_console(tmp_path) as console:
        page = console.page
        store = console.tickets
        release = moved(store, "Plan the release")
        old = moved(store, "Old task", State.READY, State.QUEUED, State.INPROGRESS, State.DONE)
        await seeded(console)

        # Mark ready asks for the intake summary, and will not go without one.
        await card(page, release).click()
        panel = page.get_by_role("dialog", name="Plan the release")
        await panel.get_by_role("button", name="Mark ready").click()
        ask = page.get_by_role("dialog", name=f"Mark ready: {release}")
        await expect(ask).to_be_visible()
        await ask.get_by_role("button", name="Mark ready").click()
        await expect(ask).to_be_visible()
        await expect(column(page, "planning").locator("[data-role=count]")).to_have_text("1")
        await ask.get_by_label("Intake summary").fill("Cut a *release* branch and tag it.")
        await ask.get_by_role("button", name="Mark ready").click()
        await expect(ask).to_have_count(0)
        await expect(card(column(page, "ready"), release)).to_be_visible()
        await expect(panel.locator("[data-role=state]")).to_have_text("ready")
        summary = panel.locator("ol.timeline > li[data-kind=intake_summary]")
        await expect(summary.locator("em")).to_have_text("release")

        # A comment goes to the thread and shows in the timeline.
        comments = panel.locator("ol.timeline > li[data-kind=comment]")
        await expect(comments).to_have_count(0)
        box = panel.get_by_label("Add a comment")
        await box.fill("Looks **good** to me")
        await panel.get_by_role("button", name="Comment", exact=True).click()
        await expect(comments).to_have_count(1)
        await expect(comments.locator("strong")).to_have_text("good")
        await expect(box).to_have_value("")

        # Changes made by the CLI show on the open page without a reload.
        await page.evaluate("window.__still_here = true")
        env = cli_env("not-used-by-ticket-commands")
        cli = ("ticket", "--workspace", str(console.workspace), "--author", "cli-person")
        said = await run_yoi(
            *cli, "comment", release, "--message", "From the terminal", cwd=tmp_path, env=env
        )
        assert said.code == 0, said.err
        await expect(comments.last).to_contain_text("From the terminal", timeout=LONG)
        await expect(comments.last.locator(".event-author")).to_have_text("cli-person")
        made = await run_yoi(*cli, "create", "--title", "Made in a terminal", cwd=tmp_path, env=env)
        assert made.code == 0, made.err
        await expect(column(page, "planning")).to_contain_text("Made in a terminal", timeout=LONG)
        await expect_counts(page, planning=1, ready=1)
        moved_by_cli = await run_yoi(*cli, "state", release, "queued", cwd=tmp_path, env=env)
        assert moved_by_cli.code == 0, moved_by_cli.err
        queued = card(column(page, "queued"), release)
        await expect(queued.locator("[data-role=queued-by]")).to_have_text(
            "queued by cli-person", timeout=LONG
        )
        await expect(panel.locator("[data-role=state]")).to_have_text("queued")
        assert await page.evaluate("window.__still_here") is True

        # Close a done ticket with a resolution: it moves to closed, the resolution is rendered.
        await card(page, old).click()
        panel = page.get_by_role("dialog", name="Old task")
        await expect(panel.locator("[data-role=state]")).to_have_text("done")
        await panel.get_by_role("button", name="Close", exact=True).click()
        ask = page.get_by_role("dialog", name=f"Close: {old}")
        await ask.get_by_label("Resolution").fill("Shipped in **v1.2**.")
        await ask.get_by_role("button", name="Close").click()
        await expect(ask).to_have_count(0)
        await expect(card(column(page, "closed"), old)).to_be_visible()
        await expect_counts(page, done=0, closed=1)
        await expect(panel.locator("[data-role=state]")).to_have_text("closed")
        await expect(panel.locator("[data-role=resolution] strong")).to_have_text("v1.2")
        await expect(panel.locator(".drawer-actions button")).to_have_count(0)
        await expect(panel.locator("ol.timeline > li[data-kind=close]")).to_contain_text("v1.2")
        resolution = store.get(old).resolution
        assert resolution is not None
        assert resolution.strip() == "Shipped in **v1.2**."


async def test_a_hostile_ticket_renders_inert(tmp_path: Path) -> None:
    async with open_console(tmp_path) as console:
        page = console.page
        store = console.tickets
        title = '<img src=x onerror="window.__pwned=6">'
        ticket_id = store.create(title, HOSTILE, author=SEEDER).id
        store.comment(ticket_id, HOSTILE, author=SEEDER)
        await console.goto(f"#/board/{ticket_id}")
        await page.reload()
        panel = page.get_by_role("dialog", name=title)
        await expect(panel.locator("ol.timeline > li[data-kind=comment]")).to_have_count(1)
        await expect(card(page, ticket_id).get_by_role("link")).to_have_text(title)
        body = panel.locator("[data-role=body]")
        await expect(body.get_by_text("<script>window.__pwned = 1</script>")).to_be_visible()

        assert await panel.locator("script").count() == 0
        assert await page.locator("main img").count() == 0
        hrefs = await panel.locator("a[href]").evaluate_all(
            "(links) => links.map((a) => a.getAttribute('href'))"
        )
        assert "https://example.com/docs" in hrefs
        assert not [
            href for href in hrefs if re.sub(r"\s", "", href).lower().startswith("javascript:")
        ]
        for text in ("javascript:window.__pwned=3", "raw link", "spaced"):
            await panel.get_by_text(text).first.click()
        await expect(page).to_have_url(re.compile(f"#/board/{ticket_id}$"))
        assert await page.evaluate("typeof window.__pwned") == "undefined"


async def test_a_move_on_a_stale_ticket_is_refused_with_its_code_and_shows_the_ticket_afresh(
    tmp_path: Path,
) -> None:
    async with open_console(tmp_path) as console:
        page = console.page
        store = console.tickets
        ticket_id = moved(store, "Tune the cache", State.READY)
        # The change feed stays silent, as when a change lands before the page hears of it.
        silenced: list[WebSocketRoute] = []

        def silence(feed: WebSocketRoute) -> None:
            silenced.append(feed)

        await page.route_web_socket(re.compile(r"/api/tickets/events/ws$"), silence)
        await console.goto(f"#/board/{ticket_id}")
        await page.reload()
        panel = page.get_by_role("dialog", name="Tune the cache")
        await expect(panel.locator("[data-role=state]")).to_have_text("ready")
        assert silenced

        store.move(ticket_id, State.PLANNING, author="bob")
        await panel.get_by_role("button", name="Queue").click()
        refused = panel.locator(".error-line[data-code=state_conflict]")
        await expect(refused).to_contain_text("state_conflict")
        await expect(panel.locator("[data-role=state]")).to_have_text("planning")
        await expect(panel.get_by_role("button", name="Mark ready")).to_be_visible()
        await expect(panel.get_by_role("button", name="Queue")).to_have_count(0)
        assert store.get(ticket_id).meta.state is State.PLANNING

        # A comment over the ticket text limit is refused inline, and the draft is kept.
        box = panel.get_by_label("Add a comment")
        await box.fill("x" * (MAX_TEXT_BYTES + 1))
        await panel.get_by_role("button", name="Comment", exact=True).click()
        await expect(panel.locator(".error-line[data-code=payload_too_large]")).to_be_visible()
        await expect(box).not_to_have_value("")


def inside(box: FloatRect | None, outer: FloatRect | None) -> bool:
    """Whether ``box`` lies wholly within ``outer`` (to a pixel's rounding)."""
    assert box is not None
    assert outer is not None
    return (
        box["x"] >= outer["x"] - 0.5
        and box["y"] >= outer["y"] - 0.5
        and box["x"] + box["width"] <= outer["x"] + outer["width"] + 0.5
        and box["y"] + box["height"] <= outer["y"] + outer["height"] + 0.5
    )


async def test_a_new_ticket_from_the_board_with_a_relation_and_every_column_stays_in_view(
    tmp_path: Path,
) -> None:
    async with open_console(tmp_path, workspace_name="yoi") as console:
        page = console.page
        store = console.tickets
        schema = moved(store, "Write the schema")
        for number in range(4):
            finished = moved(store, f"Finished work {number}")
            store.move(finished, State.CLOSED, author=SEEDER, resolution="Done.")
        await seeded(console)

        # A workspace named yoi is not named twice in the header.
        await expect(page).to_have_title("yoi")
        await expect(page.locator(".brand")).to_have_text("yoi")
        await expect(page.locator("#workspace-name")).to_be_hidden()

        # A relation to a ticket that does not exist is refused before anything is made.
        await page.get_by_role("button", name="New ticket").click()
        ask = page.get_by_role("dialog", name="New ticket")
        await ask.get_by_label("Title").fill("Build the API")
        await ask.get_by_label("Description").fill("Serve the *schema*.")
        await ask.get_by_label("Relation").select_option("depends_on")
        await ask.get_by_label("Related tickets").fill("00001M0000ZZZ")
        await ask.get_by_role("button", name="Create ticket").click()
        await expect(ask.locator(".error-line[data-code=ticket_not_found]")).to_be_visible()
        assert len(store.listing(state=None, query=None, limit=None).items) == 5

        # With a real target the ticket is made, related, and its drawer opens.
        await ask.get_by_label("Related tickets").fill(schema)
        await ask.get_by_role("button", name="Create ticket").click()
        await expect(ask).to_have_count(0)
        panel = page.get_by_role("dialog", name="Build the API")
        await expect(panel.locator("[data-role=relations]")).to_contain_text(
            f"depends on → {schema}"
        )
        await expect(panel.locator("[data-role=body] em")).to_have_text("schema")
        await expect(card(column(page, "planning"), schema)).to_be_visible()
        await expect_counts(page, planning=2, closed=4)
        made = list(store.listing(state=None, query="Build", limit=None).items)
        assert [item.meta.title for item in made] == ["Build the API"]
        assert [r.target for r in store.get(made[0].id).relations] == [schema]

        # The drawer and the Companion open together still leave all six columns in view.
        await page.get_by_role("button", name="Companion").click()
        await expect(page.locator("#companion")).to_be_visible()
        viewport = FloatRect(x=0, y=0, width=1280, height=860)
        lanes = await page.locator(".board-columns").bounding_box()
        drawn = await drawer(page).bounding_box()
        assert drawn is not None
        for state in ("planning", "ready", "queued", "inprogress", "done", "closed"):
            box = await column(page, state).bounding_box()
            assert inside(box, viewport), (state, box)
            assert inside(box, lanes), (state, box, lanes)
            assert box is not None
            assert box["x"] + box["width"] <= drawn["x"], (state, box, drawn)
        await console.screenshot("board-drawer-and-companion")
