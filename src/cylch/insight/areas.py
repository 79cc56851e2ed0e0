"""Where a figure is for: a local authority, a regional safeguarding board area, or Wales."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import get_language
from django.utils.translation import gettext as _

from cylch.access.models import BoardArea, LocalAuthority
from cylch.core.collation import sorted_by

WALES = "wales"


@dataclass(frozen=True)
class Area:
    kind: str  # "wales" | "board" | "la"
    code: str
    name_en: str
    name_cy: str
    local_authority_ids: frozenset[int] | None  # None: the whole of Wales
    board_area_id: int | None = None  # a board's own records (reviews) belong to no one authority

    @property
    def name(self) -> str:
        if self.kind == WALES:
            return _("Wales")
        return self.name_cy if (get_language() or "en").startswith("cy") and self.name_cy else self.name_en

    def holds(self, local_authority_id: int | None, board_area_id: int | None = None) -> bool:
        """A unit of an authority is held by it, its board and Wales; a unit of a board's own
        (a review's recommendation) by that board and Wales only."""
        if self.local_authority_ids is None:
            return True
        if local_authority_id is None and board_area_id is not None:
            return self.kind == "board" and self.board_area_id == board_area_id
        return local_authority_id in self.local_authority_ids


def wales() -> Area:
    return Area(WALES, WALES, "Wales", "Cymru", None)


def all_areas() -> list[Area]:
    """Wales, then each board area, then each local authority, in the alphabetical order of
    their names in the page's language (``core.collation``)."""
    las = list(LocalAuthority.objects.values("pk", "code", "name_en", "name_cy", "board_area_id"))
    boards = list(BoardArea.objects.values("pk", "code", "name_en", "name_cy"))
    language = get_language() or "en"
    board_areas = [
        Area("board", b["code"], b["name_en"], b["name_cy"],
             frozenset(la["pk"] for la in las if la["board_area_id"] == b["pk"]), b["pk"])
        for b in boards
    ]  # fmt: skip
    authorities = [Area("la", la["code"], la["name_en"], la["name_cy"], frozenset({la["pk"]})) for la in las]
    return [
        wales(),
        *sorted_by(board_areas, lambda a: a.name, language),
        *sorted_by(authorities, lambda a: a.name, language),
    ]


def find(code: str) -> Area | None:
    return next((a for a in all_areas() if a.code == code), None)
