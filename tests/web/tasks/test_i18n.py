"""Tasks speak French by default and English on request, every string translated (field names
in messages included)."""

from __future__ import annotations

import re

from babel.messages.extract import extract_from_file

from tests.support.forms import post_form
from tests.support.servers import ROOT
from tests.support.spaces_world import World
from tests.support.tasks import TasksApi
from web.i18n import load_catalog

WEB = ROOT / "web"
# The refusals, and the field names that the checks of values put into their messages.
KEYWORDS = {
    "_": None,
    "N_": None,
    "gettext": None,
    "ngettext": (1, 2),
    "TaskInvalid": None,
    "TaskNotFound": None,
    "TaskConflict": None,
    "TaskError": None,
    "BodyTooLarge": None,
    "Forbidden": None,
    "text_line": (2,),
    "optional_date": (2,),
    "ident": (2,),
    "optional_ident": (2,),
    "flag": (2,),
    "whole_number": (2,),
    "id_list": (2,),
    "order_key": (2,),
}


def _strings() -> set[str]:
    found: set[str] = set()
    for path in WEB.glob("tasks/*.py"):
        for _l, message, _c, _x in extract_from_file("python", path, keywords=KEYWORDS):
            found.add(message if isinstance(message, str) else message[0])
    for path in WEB.glob("templates/tasks/*.html"):
        for _l, message, _c, _x in extract_from_file(
            "jinja2.ext:babel_extract",
            path,
            keywords=KEYWORDS,
            options={"extensions": "jinja2.ext.i18n"},
        ):
            found.add(message if isinstance(message, str) else message[0])
    # JSON field names read from bodies are not words for people.
    return {m for m in found if m and not re.fullmatch(r"[a-z_]+", m)}


def test_every_french_string_of_tasks_has_an_english_translation() -> None:
    catalog = load_catalog("en")
    strings = _strings()
    assert "Cette dépendance créerait un cycle : %(cycle)s." in strings and "Titre" in strings
    missing = sorted(m for m in strings if not (catalog.get(m) and catalog[m].string))
    assert not missing, f"add to web/locale/en/LC_MESSAGES/tasks.po: {missing}"


async def test_refusals_and_my_tasks_follow_the_language(world: World, editor: TasksApi) -> None:
    french = await editor.call("POST", "", {"title": "x" * 400})
    assert french.json()["error"] == "Titre : 300 caractères au plus."
    await post_form(editor.client, "/langue", {"langue": "en", "next": "/taches"})
    english = await editor.call("POST", "", {"title": "x" * 400})
    assert english.json()["error"] == "Title: 300 characters at most."
    page = await editor.client.get("/taches")
    assert "My tasks" in page.text and "No open task is assigned to you." in page.text
