"""Order keys: the Python keys are the npm package's keys, byte for byte, and bad keys are
refused, so a card placed in one browser sorts the same on the server and in every other."""

from __future__ import annotations

import itertools
import json
import random
import subprocess

import pytest

from tests.support.servers import ROOT
from web.tasks.fractional import (
    InvalidKey,
    check_key,
    generate_key_between,
    generate_n_keys_between,
    is_valid_key,
)

Case = tuple[str | None, str | None] | tuple[str | None, str | None, int]


def _javascript(cases: list[Case]) -> list[dict[str, object]]:
    """What `fractional-indexing` 4.0.0 answers for each case, under node."""
    stdin = "\n".join(json.dumps(case) for case in cases) + "\n"
    done = subprocess.run(
        ["node", str(ROOT / "tests" / "node" / "fractional.mjs")],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
        timeout=120,
    )
    return [json.loads(line) for line in done.stdout.splitlines()]


def _python(case: Case) -> dict[str, object]:
    try:
        if len(case) == 2:
            return {"key": generate_key_between(case[0], case[1])}
        return {"keys": generate_n_keys_between(case[0], case[1], case[2])}
    except InvalidKey:
        return {"error": True}


def _keys_people_make(rng: random.Random, count: int) -> list[str]:
    """Keys as a board makes them: cards added at the ends, dropped between neighbours, many
    times at one spot (long fractions), around the integer heads' borders."""
    keys = ["a0"]
    while len(keys) < count:
        keys.sort()
        where = rng.random()
        if where < 0.15:
            keys.append(generate_key_between(None, keys[0]))
        elif where < 0.3:
            keys.append(generate_key_between(keys[-1], None))
        else:
            i = rng.randrange(len(keys) - 1) if len(keys) > 1 else 0
            upper = keys[i + 1] if i + 1 < len(keys) else None
            keys.append(generate_key_between(keys[i], upper))
    keys += ["Zz", "a0", "az", "b00", "zzzzzzzzzzzzzzzzzzzzzzzzzzz", "A00000000000000000000000001"]
    return keys


def test_python_keys_are_the_javascript_packages_keys_byte_for_byte() -> None:
    rng = random.Random(20261215)
    keys = _keys_people_make(rng, 1500)
    cases: list[Case] = [(None, None)]
    for _ in range(3000):
        a, b = rng.choice(keys), rng.choice(keys)
        shape = rng.random()
        if shape < 0.1:
            cases.append((None, b))
        elif shape < 0.2:
            cases.append((a, None))
        elif shape < 0.3:
            cases.append((a, b, rng.randrange(0, 12)))
        else:
            cases.append((a, b))  # in either order, and sometimes equal (both refuse)
    answers = _javascript(cases)
    assert len(answers) == len(cases)
    mismatches = [
        (case, answer, _python(case))
        for case, answer in zip(cases, answers, strict=True)
        if _python(case) != answer
    ]
    assert not mismatches, mismatches[:5]
    assert sum(1 for answer in answers if "error" in answer) < len(cases) // 10


def test_every_generated_key_sorts_strictly_between_its_bounds() -> None:
    rng = random.Random(7)
    keys = sorted(set(_keys_people_make(rng, 400)))
    for lower, upper in itertools.pairwise(keys):
        key = generate_key_between(lower, upper)
        assert lower < key < upper and is_valid_key(key)
    many = generate_n_keys_between("a0", "a1", 50)
    assert many == sorted(set(many)) and "a0" < many[0] and many[-1] < "a1"


@pytest.mark.parametrize(
    "key",
    ["", "a", "a00", "a0 ", "b0", "é0", "a0/", "A" + "0" * 26, "a" + "1" * 200, "0a", 12, None],
)
def test_keys_that_are_not_valid_are_refused_with_a_reason(key: object) -> None:
    with pytest.raises(InvalidKey):
        check_key(key)


def test_two_equal_bounds_leave_no_room_and_are_refused() -> None:
    with pytest.raises(InvalidKey):
        generate_key_between("a1", "a1")
