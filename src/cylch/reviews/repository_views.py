"""The public repository's pages: search and one entry. No sign-in; only ``repository``'s
``PublicEntry`` values reach the templates (never a model instance)."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.shortcuts import render
from django.utils.translation import get_language

from cylch.access.models import BoardArea
from cylch.core.collation import sorted_by
from cylch.reviews import repository
from cylch.reviews.analysis import board_name
from cylch.reviews.analysis_forms import RepositorySearchForm


def _options(groups, counts, chosen: str):
    """Grouped choices with how many entries each would give; a choice that would give none is
    left out (unless it is the one chosen), so nobody picks a filter that finds nothing."""
    out = []
    for label, codes in groups:
        options = [(c, name, counts.get(c, 0)) for c, name in codes if counts.get(c, 0) or c == chosen]
        if options:
            out.append((label, options))
    return out


def search(request):
    form = RepositorySearchForm(request.GET)
    query = form.query()
    counts = repository.facet_counts(query)
    paginator = Paginator(repository.search(query), repository.PAGE_SIZE)
    page = paginator.get_page(request.GET.get("page"))
    params = request.GET.copy()
    params.pop("page", None)
    language = get_language() or "en"
    boards = [(b.code, board_name(b), counts["board"].get(b.code, 0)) for b in BoardArea.objects.all()]
    boards = sorted_by(boards, lambda b: b[1], language)  # in the reader's alphabetical order
    return render(request, "reviews/repository/search.html", {
        "query": query, "page": page, "entries": repository.entries(page.object_list), "count": paginator.count,
        "themes": _options(repository.filter_choices(repository.THEME_GROUPS), counts["theme"], query.theme),
        "indicators": _options(repository.filter_choices(repository.INDICATOR_GROUPS), counts["indicator"],
                               query.indicator),
        "ages": _options(repository.age_choices(), counts["age_band"], query.age_band),
        "boards": [b for b in boards if b[2] or b[0] == query.board],
        "years": [(y, counts["year"].get(y, 0)) for y in repository.years() if counts["year"].get(y) or y == query.year],
        "filtered": any([query.text, query.theme, query.indicator, query.age_band, query.board, query.year]),
        "params": params.urlencode(),
    })  # fmt: skip


def entry(request, entry_id):
    return render(request, "reviews/repository/entry.html", {"entry": repository.entry(entry_id)})
