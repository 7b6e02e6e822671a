"""The look of the pages: ATELIER_THEME picks the stylesheets and scripts every page loads.

Every template writes the DSFR's markup (web/templates/_components.html). `neutre`, the
default, styles it with Atelier's own stylesheet (css/neutre.css) and script (build/layout.js):
no Marianne font, no "République Française" block, no State colours, since an instance need
not be a State service and the DSFR's terms keep its identity for those. `etat` loads the DSFR
itself (served from /static/dsfr, fetched by `make dsfr` once its terms are accepted) and shows
the official header block. docs/design.md says more.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from web.config import SettingsError

NEUTRAL = "neutre"
STATE = "etat"
# What the `etat` theme serves from /static/dsfr (tools/dsfr.py copies them there).
DSFR_FILES = ("dsfr/dsfr.min.css", "dsfr/dsfr.module.min.js", "dsfr/dsfr.nomodule.min.js")


@dataclass(frozen=True)
class Theme:
    """What a page loads for one theme (paths under /static)."""

    name: str
    stylesheets: tuple[str, ...]
    module_scripts: tuple[str, ...]
    classic_scripts: tuple[str, ...] = ()

    @property
    def is_state(self) -> bool:
        """True for State services: Marianne, the "République Française" block."""
        return self.name == STATE


THEMES = {
    NEUTRAL: Theme(NEUTRAL, ("css/neutre.css",), ("build/layout.js",)),
    STATE: Theme(
        STATE,
        ("dsfr/dsfr.min.css", "css/etat.css"),
        ("dsfr/dsfr.module.min.js",),
        ("dsfr/dsfr.nomodule.min.js",),
    ),
}


def load_theme(name: str, static_dir: Path) -> Theme:
    """The theme called `name`; `etat` without the DSFR's files stops start-up, saying how to
    get them."""
    theme = THEMES[name]
    if theme.is_state:
        missing = [path for path in DSFR_FILES if not (static_dir / path).is_file()]
        if missing:
            raise SettingsError(
                f"ATELIER_THEME=etat needs the DSFR's files in {static_dir / 'dsfr'} "
                f"(missing: {', '.join(missing)}). The DSFR is for State services only: read "
                "its terms of use (docs/design.md), then run `DSFR_ACCEPT_LICENSE=1 make dsfr`; "
                "or use ATELIER_THEME=neutre."
            )
    return theme
