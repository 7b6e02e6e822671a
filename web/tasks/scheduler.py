"""The plan's scheduler: dependencies, rescheduling, cycles, the critical path, undo.

Pure functions on plain values (no I/O, no clock): the services load a space's dated tasks
and links, ask here, and write back the changes returned.

Time is counted in working days of the space's calendar (`WorkCalendar`). A task spanning
`start`..`end` (both inclusive) starts at instant `index(start)` and finishes at
`index(end + 1 day)`, and lasts at least one working day. A link from a predecessor P to a
successor S, with a lag of `lag` working days (negative: a lead), requires:

- FS (finish to start): S starts no earlier than P finishes, plus the lag;
- SS (start to start): S starts no earlier than P starts, plus the lag;
- FF (finish to finish): S finishes no earlier than P finishes, plus the lag;
- SF (start to finish): S finishes no earlier than P starts, plus the lag.

Moving or resizing a task (`reschedule`) moves each task that depends on it, directly or
not, by as much as the end of the predecessor it hangs on moved (its start for SS and SF
links, its finish for FS and FF), so the plan keeps its shape, forward and backward; then
no task goes earlier than any of its links allows (it is pushed later just enough). A moved
task itself is also kept behind its own predecessors. Nothing that does not depend on the
moved tasks changes. The answer is the list of changes; `undo` gives back, for each, the
dates it had, which restores the plan exactly.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from web.tasks.workdays import WorkCalendar

LINK_KINDS = ("FS", "SS", "FF", "SF")
ONE_DAY = timedelta(days=1)


class ScheduleError(ValueError):
    """A plan that cannot be scheduled (a cycle, a date out of the calendar)."""


class CycleError(ScheduleError):
    """A link that would close a cycle; `cycle` names its tasks in order, first repeated."""

    def __init__(self, cycle: Sequence[int], titles: Sequence[str]) -> None:
        self.cycle = tuple(cycle)
        self.titles = tuple(titles)
        super().__init__(" → ".join(titles))


@dataclass(frozen=True)
class Span:
    """A task's dates, both inclusive."""

    start: date
    end: date


@dataclass(frozen=True)
class Link:
    """`successor` depends on `predecessor` by `kind` (FS, SS, FF, SF), `lag` working days."""

    predecessor: int
    successor: int
    kind: str = "FS"
    lag: int = 0


@dataclass(frozen=True)
class Plan:
    """A space's plan: its dated tasks, its links (tasks without dates are left out of
    `spans`; links touching them constrain nothing), its task titles, its calendar."""

    spans: Mapping[int, Span]
    links: Sequence[Link]
    calendar: WorkCalendar
    titles: Mapping[int, str] | None = None


@dataclass(frozen=True)
class Change:
    """One task's dates before and after (None: it had no dates)."""

    task_id: int
    before: Span | None
    after: Span


@dataclass(frozen=True)
class CriticalPath:
    """Tasks that cannot slip without delaying the plan's end, and each task's slack."""

    critical: frozenset[int]
    slack: Mapping[int, int]  # working days a task may slip; negative when a link is broken
    finish: date | None


@dataclass(frozen=True)
class _Instants:
    start: int
    finish: int

    @property
    def duration(self) -> int:
        return self.finish - self.start


def _instants(calendar: WorkCalendar, span: Span) -> _Instants:
    start = calendar.index(span.start)
    finish = max(calendar.index(span.end + ONE_DAY), start + 1)
    return _Instants(start, finish)


def _span(calendar: WorkCalendar, at: _Instants) -> Span:
    return Span(calendar.day(at.start), calendar.day(at.finish - 1))


def _earliest_start(link: Link, pred: _Instants, duration: int) -> int:
    """The earliest start this link allows its successor (of `duration`)."""
    if link.kind == "FS":
        return pred.finish + link.lag
    if link.kind == "SS":
        return pred.start + link.lag
    if link.kind == "FF":
        return pred.finish + link.lag - duration
    return pred.start + link.lag - duration  # SF


def _anchor(link: Link, at: _Instants) -> int:
    """The predecessor's end this link hangs on."""
    return at.finish if link.kind in ("FS", "FF") else at.start


def _title(titles: Mapping[int, str] | None, task_id: int) -> str:
    if titles and task_id in titles:
        return titles[task_id]
    return f"#{task_id}"


def find_cycle(links: Iterable[Link], new: Link) -> list[int] | None:
    """The cycle adding `new` would close (its tasks in order, the first repeated), or None."""
    if new.predecessor == new.successor:
        return [new.predecessor, new.predecessor]
    successors: dict[int, list[int]] = {}
    for link in links:
        successors.setdefault(link.predecessor, []).append(link.successor)
    # A path successor → ... → predecessor closes the cycle.
    came_from: dict[int, int | None] = {new.successor: None}
    queue = deque([new.successor])
    while queue:
        node = queue.popleft()
        if node == new.predecessor:
            path = [node]
            step = came_from[node]
            while step is not None:
                path.append(step)
                step = came_from[step]
            path.reverse()  # successor ... predecessor
            return [new.predecessor, *path]
        for nxt in successors.get(node, ()):
            if nxt not in came_from:
                came_from[nxt] = node
                queue.append(nxt)
    return None


def check_link(plan: Plan, new: Link) -> None:
    """Refuse (CycleError, naming the tasks) a link that would close a cycle."""
    cycle = find_cycle(plan.links, new)
    if cycle is not None:
        raise CycleError(cycle, [_title(plan.titles, t) for t in cycle])


def _topological(
    nodes: set[int], links: Sequence[Link], titles: Mapping[int, str] | None
) -> list[int]:
    """`nodes` in an order where every link's predecessor comes first (links among them)."""
    incoming = {n: 0 for n in nodes}
    successors: dict[int, list[int]] = {n: [] for n in nodes}
    for link in links:
        if link.predecessor in nodes and link.successor in nodes:
            successors[link.predecessor].append(link.successor)
            incoming[link.successor] += 1
    queue = deque(sorted(n for n, count in incoming.items() if count == 0))
    order: list[int] = []
    while queue:
        node = queue.popleft()
        order.append(node)
        for nxt in successors[node]:
            incoming[nxt] -= 1
            if incoming[nxt] == 0:
                queue.append(nxt)
    if len(order) != len(nodes):
        left = next(n for n in sorted(nodes) if incoming[n] > 0)
        cycle = _cycle_through(left, links, nodes)
        raise CycleError(cycle, [_title(titles, t) for t in cycle])
    return order


def _cycle_through(start: int, links: Sequence[Link], nodes: set[int]) -> list[int]:
    """A cycle among `nodes` reachable from `start` (which has unsatisfied predecessors)."""
    predecessors: dict[int, list[int]] = {}
    for link in links:
        if link.predecessor in nodes and link.successor in nodes:
            predecessors.setdefault(link.successor, []).append(link.predecessor)
    seen: dict[int, int] = {}
    path: list[int] = []
    node = start
    while node not in seen:  # walk backwards: every node left over has a predecessor left
        seen[node] = len(path)
        path.append(node)
        node = min(predecessors[node])
    cycle = path[seen[node] :]
    cycle.reverse()
    return [*cycle, cycle[0]]


def reschedule(plan: Plan, moves: Mapping[int, Span]) -> list[Change]:
    """Give the tasks of `moves` their new dates and shift what depends on them; the changes.

    A moved task lands where asked unless that breaks one of its own links: then it goes
    just late enough. A start on a day off moves to the next working day.
    """
    calendar = plan.calendar
    old = {t: _instants(calendar, span) for t, span in plan.spans.items()}
    successors: dict[int, list[Link]] = {}
    predecessors: dict[int, list[Link]] = {}
    for link in plan.links:
        if link.predecessor in old or link.predecessor in moves:
            successors.setdefault(link.predecessor, []).append(link)
            predecessors.setdefault(link.successor, []).append(link)
    affected: set[int] = set()
    queue = deque(moves)
    while queue:
        node = queue.popleft()
        if node in affected:
            continue
        affected.add(node)
        for link in successors.get(node, ()):
            if link.successor in old and link.successor not in affected:
                queue.append(link.successor)
    new: dict[int, _Instants] = {}
    for task in _topological(affected, plan.links, plan.titles):
        if task in moves:
            wanted = _instants(calendar, moves[task])
            start, duration = wanted.start, wanted.duration
        else:
            before = old[task]
            shifts = [
                _anchor(link, new[link.predecessor]) - _anchor(link, old[link.predecessor])
                for link in predecessors.get(task, ())
                if link.predecessor in new and link.predecessor in old
            ]
            start, duration = before.start + max(shifts, default=0), before.duration
        for link in predecessors.get(task, ()):
            pred = new.get(link.predecessor) or old.get(link.predecessor)
            if pred is not None:
                start = max(start, _earliest_start(link, pred, duration))
        new[task] = _Instants(start, start + duration)
    changes: list[Change] = []
    for task, at in new.items():
        before_span = plan.spans.get(task)
        if task not in moves and at == old[task]:
            continue  # unmoved: its dates stay exactly as they were written
        after = _span(calendar, at)
        if after != before_span:
            changes.append(Change(task, before_span, after))
    changes.sort(key=lambda change: change.task_id)
    return changes


def apply(spans: Mapping[int, Span], changes: Iterable[Change]) -> dict[int, Span]:
    """`spans` with `changes` made."""
    result = dict(spans)
    for change in changes:
        result[change.task_id] = change.after
    return result


def undo(changes: Iterable[Change]) -> dict[int, Span | None]:
    """What undoing `changes` sets each task back to (None: it had no dates, clear them)."""
    return {change.task_id: change.before for change in changes}


def violations(plan: Plan) -> list[Link]:
    """The links the plan's dates break."""
    at = {t: _instants(plan.calendar, span) for t, span in plan.spans.items()}
    broken = []
    for link in plan.links:
        pred, succ = at.get(link.predecessor), at.get(link.successor)
        if pred is not None and succ is not None:
            if succ.start < _earliest_start(link, pred, succ.duration):
                broken.append(link)
    return broken


def critical_path(plan: Plan) -> CriticalPath:
    """The tasks whose slip would delay the plan's end (slack 0 or less), by a backward pass
    from the latest finish over the links."""
    calendar = plan.calendar
    at = {t: _instants(calendar, span) for t, span in plan.spans.items()}
    if not at:
        return CriticalPath(frozenset(), {}, None)
    finish = max(i.finish for i in at.values())
    order = _topological(set(at), plan.links, plan.titles)
    outgoing: dict[int, list[Link]] = {}
    for link in plan.links:
        if link.predecessor in at and link.successor in at:
            outgoing.setdefault(link.predecessor, []).append(link)
    latest_finish: dict[int, int] = {}
    for task in reversed(order):
        duration = at[task].duration
        limit = finish
        for link in outgoing.get(task, ()):
            succ_finish = latest_finish[link.successor]
            succ_start = succ_finish - at[link.successor].duration
            if link.kind == "FS":
                limit = min(limit, succ_start - link.lag)
            elif link.kind == "FF":
                limit = min(limit, succ_finish - link.lag)
            elif link.kind == "SS":
                limit = min(limit, succ_start - link.lag + duration)
            else:  # SF
                limit = min(limit, succ_finish - link.lag + duration)
        latest_finish[task] = limit
    slack = {t: latest_finish[t] - at[t].finish for t in at}
    critical = frozenset(t for t, days in slack.items() if days <= 0)
    return CriticalPath(critical, slack, calendar.day(finish - 1))
