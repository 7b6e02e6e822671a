"""Reading tasks: a space's board (the cards of every task not archived, its columns, labels
and people), archived cards page by page, one task in full, "Mes tâches", the CSV rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from web.pages.view import caret_colour
from web.schema import users
from web.spaces.access import Actor, at_least
from web.spaces.tables import memberships, pages, spaces
from web.tasks.common import (
    TaskStore,
    board_exists,
    card,
    cards,
    column_json,
    ensure_board,
    iso,
    moment,
    order_by_key,
    read,
    require_role,
)
from web.tasks.editing import checklist
from web.tasks.errors import TaskInvalid
from web.tasks.planning import dependency_json
from web.tasks.structure import label_json
from web.tasks.tables import (
    task_assignees,
    task_boards,
    task_columns,
    task_dependencies,
    task_labels,
    tasks,
)

ARCHIVE_PAGE = 50
DUE_FILTERS = ("retard", "semaine", "sans")


@dataclass(frozen=True)
class Filters:
    """The board's filters: by assignee, label, due date, text (none: every card)."""

    assignee: int | None = None
    label: int | None = None
    due: str | None = None  # "retard" (overdue), "semaine" (due within 7 days), "sans" (none)
    text: str = ""
    today: date | None = None

    def keep(self, item: dict[str, Any], done_columns: set[int]) -> bool:
        if self.assignee is not None and self.assignee not in item["assignees"]:
            return False
        if self.label is not None and self.label not in item["labels"]:
            return False
        if self.text and self.text.casefold() not in item["title"].casefold():
            return False
        if self.due is None:
            return True
        due = item["due_date"]
        if self.due == "sans":
            return due is None
        if due is None or self.today is None or item["column_id"] in done_columns:
            return False
        if self.due == "retard":
            return date.fromisoformat(due) < self.today
        return self.today <= date.fromisoformat(due) <= self.today + timedelta(days=7)


def initials(name: str) -> str:
    parts = [p for p in name.replace("-", " ").split() if p]
    return "".join(p[0] for p in parts[:2]).upper() or "?"


def person_json(user_id: int, name: str) -> dict[str, Any]:
    return {
        "id": user_id,
        "name": name,
        "initials": initials(name),
        "colour": caret_colour(f"user:{user_id}"),
    }


async def _people(conn: AsyncConnection, space_id: int) -> list[dict[str, Any]]:
    rows = (
        await conn.execute(
            select(users.c.id, users.c.display_name)
            .join(memberships, memberships.c.user_id == users.c.id)
            .where(memberships.c.space_id == space_id)
            .order_by(users.c.display_name, users.c.id)
        )
    ).all()
    return [person_json(r.id, r.display_name) for r in rows]


async def _columns(conn: AsyncConnection, space_id: int) -> list[Any]:
    return list(
        (
            await conn.execute(
                select(task_columns)
                .where(task_columns.c.space_id == space_id)
                .order_by(task_columns.c.position, task_columns.c.id)
            )
        ).all()
    )


async def board(
    store: TaskStore, actor: Actor, space_id: int, filters: Filters | None = None
) -> dict[str, Any]:
    """The board: columns in order (with their card counts), labels, the people one may
    assign, every card not archived (in column order; `filters` applied), the links, how
    many cards are archived."""
    async with store.engine.connect() as conn:
        await require_role(conn, actor, space_id, "reader")
        made = await board_exists(conn, space_id)
    if not made:
        await ensure_board(store, space_id)

    async def work(conn: AsyncConnection) -> dict[str, Any]:
        role = await require_role(conn, actor, space_id, "reader")
        settings = (
            await conn.execute(select(task_boards).where(task_boards.c.space_id == space_id))
        ).one()
        columns = await _columns(conn, space_id)
        shown = await cards(conn, store, space_id, tasks.c.archived_at.is_(None))
        counts: dict[int, int] = {}
        for item in shown:
            counts[item["column_id"]] = counts.get(item["column_id"], 0) + 1
        done = {c.id for c in columns if c.done}
        if filters is not None:
            shown = [item for item in shown if filters.keep(item, done)]
        archived = (
            await conn.execute(
                select(func.count()).where(
                    tasks.c.space_id == space_id, tasks.c.archived_at.is_not(None)
                )
            )
        ).scalar_one()
        space = (await conn.execute(select(spaces).where(spaces.c.id == space_id))).one()
        labels = (
            await conn.execute(
                select(task_labels)
                .where(task_labels.c.space_id == space_id)
                .order_by(task_labels.c.name)
            )
        ).all()
        links = (
            await conn.execute(
                select(task_dependencies).where(task_dependencies.c.space_id == space_id)
            )
        ).all()
        writable = at_least(role, "editor") and space.archived_at is None
        return {
            "space": {
                "id": space.id,
                "slug": space.slug,
                "name": space.name,
                "archived": space.archived_at is not None,
            },
            "role": role,
            "can_edit": writable,
            "can_manage": at_least(role, "admin") and space.archived_at is None,
            "settings": {"skip_non_working": bool(settings.skip_non_working)},
            "columns": [column_json(c, counts.get(c.id, 0)) for c in columns],
            "labels": [label_json(r) for r in labels],
            "people": await _people(conn, space_id),
            "tasks": sorted(shown, key=lambda c: (c["column_id"], c["order"])),
            "dependencies": [dependency_json(r) for r in links],
            "archived_count": archived,
            "live": {"topic": f"space:{space_id}"},
        }

    return await read(store, work)


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped.casefold()}%"


async def archived_cards(
    store: TaskStore, actor: Actor, space_id: int, page: int, text: str = ""
) -> dict[str, Any]:
    """Archived cards, the most recently archived first, `ARCHIVE_PAGE` a page."""
    if not 1 <= page <= 100_000:
        raise TaskInvalid("Page : nombre entier à partir de 1.")

    async def work(conn: AsyncConnection) -> dict[str, Any]:
        await require_role(conn, actor, space_id, "reader")
        condition = and_(tasks.c.space_id == space_id, tasks.c.archived_at.is_not(None))
        if text:
            condition = and_(condition, func.lower(tasks.c.title).like(_like(text), escape="\\"))
        rows = (
            await conn.execute(
                select(tasks.c.id, tasks.c.archived_at)
                .where(condition)
                .order_by(tasks.c.archived_at.desc(), tasks.c.id.desc())
                .offset((page - 1) * ARCHIVE_PAGE)
                .limit(ARCHIVE_PAGE + 1)
            )
        ).all()
        more = len(rows) > ARCHIVE_PAGE
        rows = rows[:ARCHIVE_PAGE]
        when = {r.id: moment(r.archived_at) for r in rows}
        found = {c["id"]: c for c in await cards(conn, store, space_id, tasks.c.id.in_(list(when)))}
        listed = [{**found[r.id], "archived_at": when[r.id]} for r in rows if r.id in found]
        return {"tasks": listed, "page": page, "next_page": page + 1 if more else None}

    return await read(store, work)


async def _names(conn: AsyncConnection, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = await conn.execute(select(users.c.id, users.c.display_name).where(users.c.id.in_(ids)))
    return {r.id: r.display_name for r in rows.all()}


async def task_detail(
    store: TaskStore, actor: Actor, space_id: int, task_id: int
) -> dict[str, Any]:
    """One task in full: its card, its description's document, who made and changed it and
    when, its checklist, links both ways, parent and sub-tasks, the page item it came from."""

    async def work(conn: AsyncConnection) -> dict[str, Any]:
        await require_role(conn, actor, space_id, "reader")
        found = await card(conn, store, space_id, task_id)
        row = (await conn.execute(select(tasks).where(tasks.c.id == task_id))).one()
        titles = dict(
            (
                await conn.execute(
                    select(tasks.c.id, tasks.c.title).where(tasks.c.space_id == space_id)
                )
            ).all()
        )
        links = (
            await conn.execute(
                select(task_dependencies).where(
                    (task_dependencies.c.predecessor_id == task_id)
                    | (task_dependencies.c.successor_id == task_id)
                )
            )
        ).all()
        children = (
            await conn.execute(
                select(tasks.c.id, tasks.c.title, tasks.c.order_key)
                .where(tasks.c.parent_id == task_id)
                .order_by(tasks.c.id)
            )
        ).all()
        names = await _names(conn, {i for i in (row.created_by, row.updated_by) if i})
        source = None
        if row.source_page_id is not None:
            page = (
                await conn.execute(
                    select(pages.c.id, pages.c.title, pages.c.deleted_at).where(
                        pages.c.id == row.source_page_id
                    )
                )
            ).first()
            if page is not None and page.deleted_at is None:
                source = {"page_id": page.id, "title": page.title, "item": row.source_item}

        def who(user_id: int | None) -> dict[str, Any] | None:
            return None if user_id is None else {"id": user_id, "name": names.get(user_id, "")}

        def linked(other: str, dependency: Any) -> dict[str, Any]:
            task = getattr(dependency, other)
            return {**dependency_json(dependency), "task": {"id": task, "title": titles.get(task)}}

        return {
            **found,
            "doc_name": row.doc_name,
            "archived_at": moment(row.archived_at),
            "created_by": who(row.created_by),
            "created_at": moment(row.created_at),
            "updated_by": who(row.updated_by),
            "updated_at": moment(row.updated_at),
            "checklist_items": await checklist(conn, task_id),
            "predecessors": [
                linked("predecessor_id", d) for d in links if d.successor_id == task_id
            ],
            "successors": [linked("successor_id", d) for d in links if d.predecessor_id == task_id],
            "parent": (
                None
                if row.parent_id is None
                else {"id": row.parent_id, "title": titles.get(row.parent_id)}
            ),
            "subtasks": [{"id": c.id, "title": c.title} for c in children],
            "source": source,
            "live": {"topic": f"item:task:{task_id}"},
        }

    return await read(store, work)


async def my_tasks(store: TaskStore, actor: Actor, today: date) -> list[dict[str, Any]]:
    """Every task not archived assigned to `actor` in a space it is still a member of: open
    ones by due date (none last), overdue marked, then finished ones."""
    if actor.guest_link_id is not None:
        return []

    async def work(conn: AsyncConnection) -> list[dict[str, Any]]:
        rows = (
            await conn.execute(
                select(
                    tasks.c.id,
                    tasks.c.title,
                    tasks.c.start_date,
                    tasks.c.due_date,
                    tasks.c.progress,
                    spaces.c.slug,
                    spaces.c.name.label("space_name"),
                    task_columns.c.name.label("column_name"),
                    task_columns.c.done,
                )
                .join(task_assignees, task_assignees.c.task_id == tasks.c.id)
                .join(spaces, spaces.c.id == tasks.c.space_id)
                .join(
                    memberships,
                    and_(
                        memberships.c.space_id == tasks.c.space_id,
                        memberships.c.user_id == actor.id,
                    ),
                )
                .join(task_columns, task_columns.c.id == tasks.c.column_id)
                .where(task_assignees.c.user_id == actor.id, tasks.c.archived_at.is_(None))
            )
        ).all()
        listed = []
        for r in rows:
            finished = bool(r.done) or r.progress >= 100
            listed.append(
                {
                    "id": r.id,
                    "title": r.title,
                    "space": {"slug": r.slug, "name": r.space_name},
                    "column": r.column_name,
                    "start_date": iso(r.start_date),
                    "due_date": iso(r.due_date),
                    "progress": r.progress,
                    "done": finished,
                    "overdue": not finished and r.due_date is not None and r.due_date < today,
                    "url": f"/espaces/{r.slug}/taches/{r.id}",
                }
            )
        listed.sort(
            key=lambda t: (t["done"], t["due_date"] is None, t["due_date"] or "", t["title"])
        )
        return listed

    return await read(store, work)


async def export_rows(store: TaskStore, actor: Actor, space_id: int) -> list[list[str]]:
    """The space's tasks as spreadsheet rows (French headers first), in board order."""

    async def work(conn: AsyncConnection) -> list[list[str]]:
        await require_role(conn, actor, space_id, "reader")
        columns = {c.id: c for c in await _columns(conn, space_id)}
        column_rank = {cid: rank for rank, cid in enumerate(columns)}
        every = await cards(conn, store, space_id)
        in_space = select(task_labels).where(task_labels.c.space_id == space_id)
        labels = {r.id: r.name for r in (await conn.execute(in_space)).all()}
        people = await _names(conn, {p for c in every for p in c["assignees"]})
        titles = {c["id"]: c["title"] for c in every}
        before: dict[int, list[str]] = {}
        for d in (
            await conn.execute(
                select(task_dependencies).where(task_dependencies.c.space_id == space_id)
            )
        ).all():
            lag = f" {d.lag_days:+d} j" if d.lag_days else ""
            before.setdefault(d.successor_id, []).append(f"{d.predecessor_id} {d.kind}{lag}")
        rows = [
            [
                "Identifiant",
                "Titre",
                "Colonne",
                "Assignés",
                "Étiquettes",
                "Début",
                "Échéance",
                "Estimation (h)",
                "Avancement (%)",
                "Jalon",
                "Tâche parente",
                "Prédécesseurs",
                "Archivée",
            ]
        ]
        ordered = order_by_key(every, "order")
        ordered.sort(key=lambda c: column_rank.get(c["column_id"], 0))
        for c in ordered:
            estimate = c["estimate_hours"]
            rows.append(
                [
                    str(c["id"]),
                    c["title"],
                    columns[c["column_id"]].name if c["column_id"] in columns else "",
                    ", ".join(people.get(p, "") for p in c["assignees"]),
                    ", ".join(labels.get(label, "") for label in c["labels"]),
                    c["start_date"] or "",
                    c["due_date"] or "",
                    "" if estimate is None else f"{estimate:g}".replace(".", ","),
                    str(c["progress"]),
                    "oui" if c["milestone"] else "non",
                    titles.get(c["parent_id"], "") if c["parent_id"] else "",
                    " ; ".join(before.get(c["id"], [])),
                    "oui" if c["archived"] else "non",
                ]
            )
        return rows

    return await read(store, work)
