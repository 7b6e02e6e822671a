"""The machinery of the authorisation matrix (tests/web/test_access_matrix*.py): reading its
tables, the routes of the app, sending each actor's request and judging the answer.

A table is literal text: a header naming the columns (see `matrix_world.COLUMNS`), then one
line per case, its name and one outcome per column. An outcome is either a refusal, the same
for every case:

    in    sent to sign in: 303 to /connexion (with ?next= the address asked, when given)
    401 403 404 409 410    refused with that status

or the name of one of the case's own answers (`ok` mostly), which says exactly what happens:
the status, where a 303 goes, what the answer shows, and what the request changes. After a
refusal, and after any answer that names no effect, nothing at all has changed: every table's
rows and every stored file are compared before and after (`world_snapshot`).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import httpx
from starlette.applications import Starlette
from starlette.routing import Match, Mount, Route, WebSocketRoute

from tests.support.forms import csrf_token
from tests.support.matrix_world import COLUMNS, Browsers, MatrixWorld, build_matrix_world
from tests.support.world_snapshot import Change, InstanceState, Snapshot, compare
from web.auth.sessions import COOKIE_NAME

SIGN_IN = "in"
REFUSALS = ("401", "403", "404", "409", "410")


# --- the tables -------------------------------------------------------------------------------


def read_table(text: str) -> dict[str, dict[str, str]]:
    """case name → column → outcome, from a table's text (lines starting with # are notes)."""
    lines = [
        line for line in text.strip().splitlines() if line.strip() and not line.startswith("#")
    ]
    header = lines[0].split()
    columns = header[-len(COLUMNS) :]
    assert columns == list(COLUMNS), f"the columns must be {' '.join(COLUMNS)}: {header}"
    table: dict[str, dict[str, str]] = {}
    for line in lines[1:]:
        words = line.split()
        name = " ".join(words[: -len(columns)])
        assert name and len(words) > len(columns), f"a line with too few outcomes: {line!r}"
        assert name not in table, f"two lines for {name!r}"
        table[name] = dict(zip(columns, words[-len(columns) :], strict=True))
    return table


# --- the app's routes ----------------------------------------------------------------------------


def route_names(app: Starlette) -> set[str]:
    """Every route of the app as `METHOD /path/{param}` (HEAD goes with GET), WebSocket routes
    as `WS /path`, and a mounted app as `GET /mount/{path:path}`."""
    names: set[str] = set()
    for route in app.routes:
        if isinstance(route, Route):
            names |= {
                f"{method} {route.path}" for method in route.methods or () if method != "HEAD"
            }
        elif isinstance(route, WebSocketRoute):
            names.add(f"WS {route.path}")
        elif isinstance(route, Mount):
            names.add(f"GET {route.path}/{{path:path}}")
        else:
            raise AssertionError(f"a route of an unknown kind: {route!r}")
    return names


def route_of(app: Starlette, method: str, path: str) -> str:
    """The name (as `route_names` gives it) of the route that answers this request."""
    scope = {"type": "http", "method": method, "path": urlsplit(path).path, "root_path": ""}
    for route in app.routes:
        match, _ = route.matches(scope)
        if match is Match.FULL:
            if isinstance(route, Mount):
                return f"GET {route.path}/{{path:path}}"
            assert isinstance(route, Route)
            return f"{method} {route.path}"
    return f"{method} {path} (no route)"


# --- requests -------------------------------------------------------------------------------


@dataclass
class Req:
    """One actor's request, and what its preparation made (for answers and effects)."""

    method: str  # GET; POST (a form, a JSON body or an image upload); PATCH or DELETE (JSON)
    path: str
    form: dict[str, str] | None = None
    json: Any = None
    upload: bytes | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    # False when making the request changed nothing (the last snapshot still holds).
    prepared: bool = True


Prepare = Callable[[MatrixWorld, str], Awaitable[Req]]


async def send(client: httpx.AsyncClient, req: Req) -> httpx.Response:
    """Send `req` as a browser would: forms and scripts carry the page's CSRF token (scripts
    in a header, with their JSON body if any)."""
    if req.method == "GET":
        return await client.get(req.path)
    token = await csrf_token(client)
    if req.json is not None or req.method != "POST":
        headers = {"X-CSRF-Token": token}
        return await client.request(req.method, req.path, json=req.json, headers=headers)
    if req.upload is not None:
        files = {"file": ("image.png", req.upload, "image/png")}
        return await client.post(req.path, data={"csrf_token": token}, files=files)
    return await client.post(req.path, data={**(req.form or {}), "csrf_token": token})


# --- answers and effects --------------------------------------------------------------------


class _Set:
    def __repr__(self) -> str:
        return "SET"


SET: Any = _Set()  # any value but None


def resolve(value: Any, fields: Mapping[str, Any]) -> Any:
    """`"{page}"` is the field itself; other strings are formatted with the fields."""
    if isinstance(value, str):
        whole = re.fullmatch(r"\{(\w+)\}", value)
        return fields[whole.group(1)] if whole else value.format(**fields)
    return value


def _matches(row: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    for name, value in wanted.items():
        if value is SET:
            if row.get(name) is None:
                return False
        elif row.get(name) != value:
            return False
    return True


@dataclass(frozen=True)
class Seen:
    """What an effect check may look at."""

    world: MatrixWorld
    actor: str
    req: Req
    response: httpx.Response
    change: Change
    fields: Mapping[str, Any]


Check = Callable[[Seen], Awaitable[str | None]]  # None, or what is wrong


def adds(table: str, **wanted: Any) -> Check:
    """A row is added to `table` with these values."""

    async def check(seen: Seen) -> str | None:
        values = {k: resolve(v, seen.fields) for k, v in wanted.items()}
        if any(_matches(row, values) for row in seen.change.added.get(table, [])):
            return None
        return f"no row {values} added to {table}"

    return check


def removes(table: str, **wanted: Any) -> Check:
    """A row with these values is deleted from `table`."""

    async def check(seen: Seen) -> str | None:
        values = {k: resolve(v, seen.fields) for k, v in wanted.items()}
        if any(_matches(row, values) for row in seen.change.removed.get(table, [])):
            return None
        return f"no row {values} removed from {table}"

    return check


def updates(table: str, where: Mapping[str, Any], **wanted: Any) -> Check:
    """The row of `table` found by `where` now has these values."""

    async def check(seen: Seen) -> str | None:
        found = {k: resolve(v, seen.fields) for k, v in where.items()}
        values = {k: resolve(v, seen.fields) for k, v in wanted.items()}
        for _before, after in seen.change.updated.get(table, []):
            if _matches(after, found) and _matches(after, values):
                return None
        return f"the row {found} of {table} was not changed to {values}"

    return check


@dataclass(frozen=True)
class Answer:
    """What an actor gets: the status, where a 303 goes (a pattern: `*` stands for anything),
    what the answer shows (text in the page; bytes: the whole body) or must not show, and
    the change: the tables it touches (exactly those; "files" for stored files) and checks
    of their rows. No `touches`: nothing changes."""

    status: int
    to: str | None = None
    shows: str | bytes | None = None
    hides: str | None = None
    touches: str = ""
    effects: tuple[Check, ...] = ()


def sign_in_answer() -> Answer:
    return Answer(303, to="/connexion*")


def shows(text: str, *, status: int = 200) -> Answer:
    """A page (or file) showing `text`; nothing changes."""
    return Answer(status, shows=text)


def goes(to: str) -> Answer:
    """A 303 to `to`; nothing changes."""
    return Answer(303, to=to)


def does(status: int, to: str | None, touches: str, *effects: Check) -> Answer:
    """A `status` (a 303 to `to`) that changes exactly the tables `touches`, as `effects` say."""
    return Answer(status, to=to, touches=touches, effects=effects)


async def judge(answer: Answer, token: str, seen: Seen) -> list[str]:
    """What differs between the answer wanted and the one seen (empty: as wanted)."""
    response, change = seen.response, seen.change
    problems = []
    if response.status_code != answer.status:
        problems.append(f"status {response.status_code}, not {answer.status}")
    location = response.headers.get("location", "")
    if answer.to is not None:
        place = resolve(answer.to, seen.fields)
        if not fnmatch.fnmatchcase(location, place):
            problems.append(f"sent to {location or 'nowhere'!r}, not {place!r}")
        if token == SIGN_IN and "?next=" in location:
            # Back to the page asked for; after a form, to the address it was posted to.
            back = seen.req.path if seen.req.method == "GET" else urlsplit(seen.req.path).path
            asked = parse_qs(urlsplit(location).query)["next"][0]
            if unquote(asked) != unquote(back):
                problems.append(f"sign-in goes back to {asked!r}, not {back!r}")
    if answer.shows is not None:
        shown = resolve(answer.shows, seen.fields)
        if isinstance(shown, bytes):
            if response.content != shown:
                problems.append(f"the body is not the {len(shown)} bytes wanted")
        elif shown not in response.text:
            problems.append(f"{shown!r} not shown")
    if answer.hides is not None and resolve(answer.hides, seen.fields) in response.text:
        problems.append(f"{resolve(answer.hides, seen.fields)!r} shown")
    wanted_tables = set(answer.touches.split())
    if change.tables() != wanted_tables:
        problems.append(
            f"changed {sorted(change.tables()) or 'nothing'}, "
            f"not {sorted(wanted_tables) or 'nothing'}:\n{change.describe()}"
        )
    elif wanted_tables:
        for check in answer.effects:
            problem = await check(seen)
            if problem:
                problems.append(f"{problem}; the change:\n{change.describe()}")
    return problems


def observed(response: httpx.Response, change: Change) -> str:
    """A short name for an answer that was not the one wanted."""
    location = response.headers.get("location", "")
    if response.status_code == 303 and location.startswith("/connexion"):
        name = SIGN_IN
    elif response.status_code in (301, 302, 303, 307):
        name = f"{response.status_code}→{location}"
    else:
        name = str(response.status_code)
    return name if change.empty else f"{name}+changes"


# --- running a case -------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One line of a table: the route it exercises, how each actor's request is made (and
    what is prepared for it first), and the case's own answers by name (one Answer: `ok`)."""

    route: str
    prepare: Prepare
    answers: Answer | Mapping[str, Answer] = field(default_factory=dict)

    def answer(self, token: str) -> Answer:
        if token == SIGN_IN:
            return sign_in_answer()
        if token in REFUSALS:
            return Answer(int(token))
        named = {"ok": self.answers} if isinstance(self.answers, Answer) else self.answers
        assert token in named, f"{token!r} is neither a refusal nor an answer of the case"
        return named[token]


def table_of(route: str) -> str:
    """Which table of the matrix has the lines of a route (`route_names`' form), each route in
    exactly one: "sockets" (WebSocket routes, test_access_matrix_sockets.py), "tasks" (the
    tasks API and "Mes tâches", test_access_matrix_tasks.py), "space" (a space's pages,
    test_access_matrix_spaces.py), else "instance" (test_access_matrix.py)."""
    method, path = route.split(" ", 1)
    if method == "WS":
        return "sockets"
    if "taches" in path.split("/"):
        return "tasks"
    if path.startswith("/espaces/{slug}"):
        return "space"
    return "instance"


async def run_case(
    app: Starlette, state: InstanceState, case: Case, wanted: Mapping[str, str]
) -> tuple[dict[str, str], list[str]]:
    """Every actor's request on a new world, in the table's column order: the outcome seen
    per column (the wanted one when everything matched), and what went wrong."""
    await state.wipe()
    browsers = Browsers(app)
    seen: dict[str, str] = {}
    report: list[str] = []
    latest: Snapshot | None = None
    try:
        world = await build_matrix_world(app, browsers)
        for column, actor in COLUMNS.items():
            token = wanted[column]
            answer = case.answer(token)
            req = await case.prepare(world, actor)
            route = route_of(app, req.method, req.path)
            assert route == case.route, f"{req.method} {req.path} goes to {route}"
            fields = {**world.fields(actor), **req.fields}
            before = latest if latest and not req.prepared else await state.snapshot()
            response = await send(world.clients[actor], req)
            carried = response.request.headers.get("cookie", "")
            cookie = world.cookies[actor]
            assert f"{COOKIE_NAME}={cookie}" in carried if cookie else COOKIE_NAME not in carried
            latest = await state.snapshot()
            change = compare(before, latest)
            if response.status_code >= 500:
                report.append(f"{column} ({actor}): {response.status_code} {response.text[:300]}")
            problems = await judge(answer, token, Seen(world, actor, req, response, change, fields))
            if problems:
                seen[column] = observed(response, change)
                report.append(f"{column} ({actor}), wanted {token!r}: " + "; ".join(problems))
            else:
                seen[column] = token
    finally:
        await browsers.close()
    return seen, report
