"""The scheduler: every link type with lags, on working days across French public holidays,
dependants following a moved task forward and backward, cycles refused by name, the critical
path, and undo; a hypothesis test that rescheduling never breaks a link and undo restores."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from web.tasks.scheduler import (
    LINK_KINDS,
    Change,
    CycleError,
    Link,
    Plan,
    Span,
    apply,
    check_link,
    critical_path,
    reschedule,
    undo,
    violations,
)
from web.tasks.workdays import WorkCalendar

WORKING = WorkCalendar()
EVERY_DAY = WorkCalendar(skip_non_working=False)


def d(month: int, day: int) -> date:
    return date(2026, month, day)


def span(first: tuple[int, int], last: tuple[int, int]) -> Span:
    return Span(d(*first), d(*last))


def after_pushing(plan: Plan, task: int) -> dict[int, Span]:
    """The plan once `task` is 'moved' where it is: what depends on it settles."""
    return apply(plan.spans, reschedule(plan, {task: plan.spans[task]}))


def test_finish_to_start_pushes_the_dependant_past_the_1st_of_may() -> None:
    # A ends Thursday 30 April; Friday 1 May is a holiday, then the weekend.
    plan = Plan({1: span((4, 27), (4, 30)), 2: span((4, 20), (4, 21))}, [Link(1, 2)], WORKING)
    assert after_pushing(plan, 1)[2] == span((5, 4), (5, 5))


def test_a_lag_counts_working_days_only() -> None:
    plan = Plan(
        {1: span((4, 27), (4, 28)), 2: span((4, 1), (4, 1))}, [Link(1, 2, "FS", 2)], WORKING
    )
    # Finish on Tuesday 28: Wednesday 29 and Thursday 30 are the lag, 1 May is off: Monday 4.
    assert after_pushing(plan, 1)[2] == span((5, 4), (5, 4))
    every_day = Plan(plan.spans, plan.links, EVERY_DAY)
    assert after_pushing(every_day, 1)[2] == span((5, 1), (5, 1))


def test_start_to_start_with_a_lag_skips_the_8th_of_may() -> None:
    plan = Plan({1: span((5, 7), (5, 12)), 2: span((5, 4), (5, 5))}, [Link(1, 2, "SS", 1)], WORKING)
    assert after_pushing(plan, 1)[2] == span((5, 11), (5, 12))


def test_finish_to_finish_keeps_the_dependants_length_across_ascension() -> None:
    # A ends Friday 15 May; Thursday 14 May (Ascension) is off, so B's three days end on the
    # 15th: Tuesday 12, Wednesday 13, Friday 15.
    plan = Plan(
        {1: span((5, 11), (5, 15)), 2: span((5, 4), (5, 6))}, [Link(1, 2, "FF", 0)], WORKING
    )
    assert after_pushing(plan, 1)[2] == span((5, 12), (5, 15))


def test_start_to_finish_ends_the_dependant_the_working_day_before_its_predecessor_starts() -> None:
    # A starts Tuesday 26 May (Whit Monday the 25th is off): B must finish by then, at the
    # earliest on Friday 22.
    plan = Plan(
        {1: span((5, 26), (5, 29)), 2: span((5, 18), (5, 18))}, [Link(1, 2, "SF", 0)], WORKING
    )
    assert after_pushing(plan, 1)[2] == span((5, 22), (5, 22))


def test_a_lead_lets_the_dependant_start_before_its_predecessor_ends() -> None:
    plan = Plan({1: span((6, 1), (6, 5)), 2: span((5, 4), (5, 4))}, [Link(1, 2, "FS", -2)], WORKING)
    assert after_pushing(plan, 1)[2] == span((6, 4), (6, 4))


def test_moving_a_task_later_moves_its_chain_by_as_much_and_leaves_the_rest() -> None:
    spans = {
        1: span((6, 1), (6, 2)),
        2: span((6, 3), (6, 4)),
        3: span((6, 10), (6, 10)),  # three working days of slack after 2: kept
        4: span((6, 1), (6, 3)),  # unrelated
    }
    plan = Plan(spans, [Link(1, 2), Link(2, 3)], WORKING)
    changes = reschedule(plan, {1: span((6, 3), (6, 4))})
    assert {c.task_id: c.after for c in changes} == {
        1: span((6, 3), (6, 4)),
        2: span((6, 5), (6, 8)),
        3: span((6, 12), (6, 12)),
    }
    assert all(c.before == spans[c.task_id] for c in changes)


def test_moving_a_task_earlier_pulls_its_dependants_back_as_far_as_their_other_links_allow() -> (
    None
):
    spans = {
        1: span((6, 8), (6, 9)),
        2: span((6, 10), (6, 11)),
        3: span((6, 1), (6, 3)),  # the dependant's other predecessor, unmoved
    }
    plan = Plan(spans, [Link(1, 2), Link(3, 2)], WORKING)
    moved = apply(spans, reschedule(plan, {1: span((6, 1), (6, 2))}))
    # Pulled back by 5 working days it would start on 3 June; task 3 ends then: the 4th.
    assert moved[2] == span((6, 4), (6, 5))
    assert violations(Plan(moved, plan.links, WORKING)) == []


def test_a_resize_moves_only_the_dependants_that_hang_on_the_end_that_moved() -> None:
    spans = {1: span((6, 1), (6, 3)), 2: span((6, 4), (6, 4)), 3: span((6, 2), (6, 2))}
    plan = Plan(spans, [Link(1, 2, "FS"), Link(1, 3, "SS", 1)], WORKING)
    moved = apply(spans, reschedule(plan, {1: span((6, 1), (6, 5))}))
    assert moved[2] == span((6, 8), (6, 8)) and moved[3] == spans[3]


def test_a_task_moved_before_its_predecessor_ends_goes_just_late_enough() -> None:
    spans = {1: span((6, 1), (6, 5)), 2: span((6, 8), (6, 9))}
    plan = Plan(spans, [Link(1, 2)], WORKING)
    assert apply(spans, reschedule(plan, {2: span((6, 2), (6, 3))}))[2] == span((6, 8), (6, 9))


def test_a_task_dropped_on_a_saturday_starts_on_the_monday() -> None:
    plan = Plan({1: span((6, 1), (6, 1))}, [], WORKING)
    assert reschedule(plan, {1: span((6, 6), (6, 6))}) == [
        Change(1, span((6, 1), (6, 1)), span((6, 8), (6, 8)))
    ]


def test_a_link_that_would_close_a_cycle_is_refused_naming_the_cycle() -> None:
    titles = {1: "Cahier des charges", 2: "Marché", 3: "Recette"}
    plan = Plan({}, [Link(1, 2), Link(2, 3)], WORKING, titles)
    with pytest.raises(CycleError) as refused:
        check_link(plan, Link(3, 1))
    assert str(refused.value) == "Recette → Cahier des charges → Marché → Recette"
    assert refused.value.cycle == (3, 1, 2, 3)
    with pytest.raises(CycleError):
        check_link(plan, Link(2, 2))
    check_link(plan, Link(1, 3))  # a shortcut is no cycle


def test_the_critical_path_is_the_chain_that_sets_the_end() -> None:
    spans = {
        1: span((6, 1), (6, 3)),
        2: span((6, 4), (6, 8)),
        3: span((6, 9), (6, 9)),
        4: span((6, 1), (6, 2)),  # beside the chain, finishing early
        5: span((6, 3), (6, 3)),  # after 4, with slack before 3 must start
    }
    plan = Plan(spans, [Link(1, 2), Link(2, 3), Link(4, 5), Link(5, 3)], WORKING)
    path = critical_path(plan)
    assert path.critical == {1, 2, 3}
    assert path.slack[4] == path.slack[5] == 3 and path.finish == d(6, 9)


def test_undo_puts_every_changed_task_back_exactly() -> None:
    spans = {1: span((6, 6), (6, 6)), 2: span((6, 13), (6, 14))}  # weekend dates, as written
    plan = Plan(spans, [Link(1, 2)], WORKING)
    changes = reschedule(plan, {1: span((6, 15), (6, 16))})
    assert [c.task_id for c in changes] == [1, 2]
    assert undo(changes) == spans


# -- property: rescheduling never breaks a link, undo restores --------------------------


@st.composite
def plans(draw: st.DrawFn) -> Plan:
    size = draw(st.integers(2, 12))
    first = date(2026, 4, 20)
    spans = {}
    for task in range(1, size + 1):
        start = first + timedelta(days=draw(st.integers(0, 60)))
        spans[task] = Span(start, start + timedelta(days=draw(st.integers(0, 9))))
    pairs = draw(
        st.sets(
            st.tuples(st.integers(1, size), st.integers(1, size)).filter(lambda p: p[0] < p[1]),
            max_size=size * 2,
        )
    )
    links = [
        Link(a, b, draw(st.sampled_from(LINK_KINDS)), draw(st.integers(-3, 5)))
        for a, b in sorted(pairs)
    ]
    calendar = WORKING if draw(st.booleans()) else EVERY_DAY
    raw = Plan(spans, links, calendar)
    # Start from a plan that breaks no link: every task settled where it is.
    return Plan(apply(spans, reschedule(raw, spans)), links, calendar)


@settings(max_examples=300, deadline=None)
@given(plans(), st.data())
def test_rescheduling_never_breaks_a_dependency_and_undo_restores_the_plan(
    plan: Plan, data: st.DataObject
) -> None:
    assert violations(plan) == []
    history: list[tuple[dict[int, Span], list[Change]]] = []
    current = dict(plan.spans)
    for _ in range(data.draw(st.integers(1, 6))):
        task = data.draw(st.sampled_from(sorted(current)))
        shift = timedelta(days=data.draw(st.integers(-20, 20)))
        length = timedelta(days=data.draw(st.integers(0, 8)))
        start = current[task].start + shift
        changes = reschedule(
            Plan(current, plan.links, plan.calendar), {task: Span(start, start + length)}
        )
        history.append((current, changes))
        current = apply(current, changes)
        assert violations(Plan(current, plan.links, plan.calendar)) == []
    for before, changes in reversed(history):
        restored = undo(changes)
        current = {**current, **{t: s for t, s in restored.items() if s is not None}}
        assert current == before
