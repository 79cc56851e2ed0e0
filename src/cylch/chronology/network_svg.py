"""Draw a family network as SVG. Pure: a :class:`~cylch.chronology.network.Network` in, markup
out, no database and no templates, so it can be tested as a string.

Layout by generation: the adults (parents, step-parents, carers, partners, grandparents and
other adults) on the top row, the children (the child, brothers and sisters) on the bottom
row. People who live together sit inside one dashed rounded rectangle per home, the child's
home first. Parent-to-child lines run only in the band between the two rows, so they never
cross a person's box; partner lines join neighbours directly, or run in lanes above the
homes. The child the page is about has a thick border and a "★ The child" line, so nothing
depends on colour alone.

Boxes grow to fit wrapped text and every row is as tall as its tallest box; homes sit side by
side, so nothing overlaps however large the family. The drawing scales with its container
(``viewBox``; its sizing rules are classes in ``core/static/cylch/drawings.css``, since the
Content-Security-Policy allows no style attribute). Every piece of text is XML-escaped.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from cylch.chronology.network import Home, Network, NetworkMember

BOX_W = 184
GAP_X = 32  # between boxes in a row (room for a partner line)
GROUP_GAP = 28  # between homes
PAD = 12  # inside a home's rectangle
ROW_GAP = 72  # between the adults' row and the children's row: parent lines run here
MARGIN = 16
LANE = 10  # between partner lanes above the homes
MIN_WIDTH = 600  # px on screen, below which the drawing scrolls instead of shrinking
BOX_PAD = 8
INNER_W = BOX_W - 2 * BOX_PAD

NAME = (15, 19, True)  # font size, line height, bold
META = (13, 17, False)
MARK = (13, 17, True)
TAG = (12, 15, False)
LABEL = (13, 17, True)
LABEL_TEXT = (13, 17, False)
LEGEND = (13, 18, False)

INK = "#0b0c0c"
GREY = "#505a5f"
TAG_STYLES = {  # (background, text): GOV.UK tag colours, each at least 4.5:1
    "register": ("#f4cdc6", "#2a0b06"),
    "looked_after": ("#f4cdc6", "#2a0b06"),
    "young_carer": ("#bbd4ea", "#0c2d4a"),
    "care_leaver": ("#bbd4ea", "#0c2d4a"),
    "need": ("#dbd5e9", "#3d2375"),
    "not_engaging": ("#fcd6c3", "#6e3619"),
    "withheld": ("#383f43", "#ffffff"),
}

# Arial advance widths (em), to wrap text without a font engine; anything else counts as "n".
_WIDTHS = {
    **dict.fromkeys("ijl'|", 0.23),
    **dict.fromkeys("ftI.,:;!() -/", 0.29),
    **dict.fromkeys('r"', 0.34),
    **dict.fromkeys("cksvxyzJ", 0.5),
    **dict.fromkeys("wCDHNRU", 0.73),
    **dict.fromkeys("mMW★", 0.86),
    **dict.fromkeys("ABEKPSVXYTZFL&", 0.67),
    **dict.fromkeys("GOQ", 0.78),
}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def text_width(text: str, size: int, bold: bool = False) -> float:
    """Estimated rendered width in px, a little generous so wrapped text never spills."""
    total = 0.0
    for ch in text:
        base = unicodedata.normalize("NFKD", ch)[:1] or ch  # ŵ ŷ â measure as w y a
        total += _WIDTHS.get(base, 0.56)
    return total * size * (1.1 if bold else 1.04)


def wrap(text: str, style: tuple[int, int, bool], width: float) -> list[str]:
    """Greedy word wrap to ``width`` px; a word too long for a line is broken inside."""
    size, _lh, bold = style
    lines: list[str] = []
    line = ""
    for word in text.split():
        candidate = f"{line} {word}" if line else word
        if text_width(candidate, size, bold) <= width:
            line = candidate
            continue
        if line:
            lines.append(line)
        line = ""
        while text_width(word, size, bold) > width:
            cut = len(word) - 1
            while cut > 1 and text_width(word[:cut] + "-", size, bold) > width:
                cut -= 1
            lines.append(word[:cut] + "-")
            word = word[cut:]
        line = word
    if line:
        lines.append(line)
    return lines or [""]


def _x(text: str) -> str:
    return escape(_CONTROL.sub("", str(text)))


def _attr(text: str) -> str:
    return escape(_CONTROL.sub("", str(text)), {'"': "&quot;"})


def _text(x: float, y: float, text: str, style: tuple[int, int, bool], fill: str = INK, extra: str = "") -> str:
    size, _lh, bold = style
    weight = ' font-weight="bold"' if bold else ""
    return f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}"{weight} fill="{fill}"{extra}>{_x(text)}</text>'


# -- person boxes -------------------------------------------------------------------------


@dataclass
class Tag:
    kind: str
    lines: list[str]

    @property
    def height(self) -> int:
        return len(self.lines) * TAG[1] + 5


@dataclass
class Box:
    member: NetworkMember
    lines: list[tuple[str, tuple[int, int, bool]]]
    tags: list[Tag]
    tag_rows: list[list[Tag]] = field(default_factory=list)
    x: float = 0
    y: float = 0
    height: float = 0

    @property
    def content_height(self) -> float:
        text = sum(style[1] for _t, style in self.lines)
        tags = sum(max(t.height for t in row) + 4 for row in self.tag_rows)
        return BOX_PAD * 2 + text + (4 + tags if tags else 0)

    @property
    def cx(self) -> float:
        return self.x + BOX_W / 2


def _tags(m: NetworkMember) -> list[Tag]:
    tags = []
    for flag in m.flags:
        tags.append((flag.key, flag.label))
    for need in m.needs:
        tags.append(("need", need.label))
        if need.not_engaging:
            tags.append(("not_engaging", _("Not engaging")))
    if m.withheld:
        tags.append(("withheld", _("Some entries withheld")))
    return [Tag(kind, wrap(label, TAG, INNER_W - 10)) for kind, label in tags]


def _box(m: NetworkMember) -> Box:
    lines: list[tuple[str, tuple[int, int, bool]]] = []
    if m.is_child:
        lines.append((_("★ The child"), MARK))
    if m.named:
        lines += [(t, NAME) for t in wrap(m.name, NAME, INNER_W)]
        if not m.is_child:
            lines += [(t, META) for t in wrap(m.role_label, META, INNER_W)]
        if m.age_text:
            lines += [(t, META) for t in wrap(m.age_text, META, INNER_W)]
    else:
        if not m.is_child:
            lines += [(t, NAME) for t in wrap(m.role_label, NAME, INNER_W)]
        lines += [(t, META) for t in wrap(_("Name not shown to you"), META, INNER_W)]
    box = Box(m, lines, _tags(m))
    row: list[Tag] = []
    used = 0.0
    for tag in box.tags:
        w = _tag_width(tag)
        if row and used + 4 + w > INNER_W:
            box.tag_rows.append(row)
            row, used = [], 0.0
        row.append(tag)
        used += (4 if used else 0) + w
    if row:
        box.tag_rows.append(row)
    return box


def _tag_width(tag: Tag) -> float:
    return min(INNER_W, max(text_width(line, TAG[0]) for line in tag.lines) + 10)


def _draw_box(box: Box) -> list[str]:
    m = box.member
    focal = m.is_child
    out = [
        f'<g class="cylch-network__person">'
        f'<rect x="{box.x:.1f}" y="{box.y:.1f}" width="{BOX_W}" height="{box.height:.1f}" rx="4" '
        f'fill="#ffffff" stroke="{INK if focal else GREY}" stroke-width="{4 if focal else 1.5}"/>'
    ]
    y = box.y + BOX_PAD
    for text, style in box.lines:
        y += style[1]
        out.append(
            _text(
                box.x + BOX_PAD,
                y - 4,
                text,
                style,
                extra=' font-style="italic"' if style is META and not m.named else "",
            )
        )
    y += 4
    for row in box.tag_rows:
        x = box.x + BOX_PAD
        height = max(t.height for t in row)
        for tag in row:
            w = _tag_width(tag)
            bg, fg = TAG_STYLES.get(tag.kind, TAG_STYLES["need"])
            out.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{tag.height}" rx="2" fill="{bg}"/>')
            for i, line in enumerate(tag.lines):
                out.append(_text(x + 5, y + (i + 1) * TAG[1] - 2, line, TAG, fill=fg))
            x += w + 4
        y += height + 4
    out.append("</g>")
    return out


# -- homes --------------------------------------------------------------------------------


@dataclass
class Group:
    home: Home
    adults: list[Box]
    children: list[Box]
    label: list[tuple[str, tuple[int, int, bool]]] = field(default_factory=list)
    x: float = 0

    @property
    def cols(self) -> int:
        return max(len(self.adults), len(self.children), 1)

    @property
    def inner_width(self) -> float:
        return self.cols * BOX_W + (self.cols - 1) * GAP_X

    @property
    def width(self) -> float:
        return self.inner_width + 2 * PAD


def _order_adults(adults: list[NetworkMember], partners: list[tuple[int, int]]) -> list[NetworkMember]:
    """Keep the network's order, but put each adult's partner (in the same home) beside them."""
    pk = {m.pk: m for m in adults}
    placed: list[NetworkMember] = []
    for m in adults:
        if m in placed:
            continue
        placed.append(m)
        for a, b in partners:
            other = b if a == m.pk else a if b == m.pk else None
            if other in pk and pk[other] not in placed:
                placed.append(pk[other])
    return placed


def _groups(network: Network) -> list[Group]:
    groups = []
    for home in network.homes:
        people = [m for m in network.members if m.home == home.pk]
        if not people:
            continue
        adults = _order_adults([m for m in people if m.adult_row], network.partner_links)
        children = [m for m in people if not m.adult_row]
        group = Group(home, [_box(m) for m in adults], [_box(m) for m in children])
        group.label = [(t, LABEL) for t in wrap(home.label, LABEL, group.inner_width)]
        if home.address:
            group.label += [(t, LABEL_TEXT) for t in wrap(home.address, LABEL_TEXT, group.inner_width)]
        groups.append(group)
    return groups


# -- lines --------------------------------------------------------------------------------


def _spread(n: int, i: int, step: float = 24) -> float:
    """Offset of the i-th of n line ends along an edge, centred, kept inside the box."""
    if n <= 1:
        return 0.0
    step = min(step, (BOX_W - 24) / (n - 1))
    return (i - (n - 1) / 2) * step


def _double(path: str) -> list[str]:
    """A double line: a thick dark stroke with a thin white one down its middle."""
    return [
        f'<path d="{path}" fill="none" stroke="{INK}" stroke-width="5"/>',
        f'<path d="{path}" fill="none" stroke="#ffffff" stroke-width="1.5"/>',
    ]


def _lanes(pairs: list[tuple[float, float]]) -> list[int]:
    """Give each horizontal span a lane so that spans sharing a lane do not overlap."""
    ends: list[float] = []  # right end of the last span in each lane
    lanes = [0] * len(pairs)
    for i in sorted(range(len(pairs)), key=lambda i: pairs[i]):
        left, right = pairs[i]
        lane = next((n for n, end in enumerate(ends) if end + 12 < left), None)
        if lane is None:
            ends.append(right)
            lane = len(ends) - 1
        else:
            ends[lane] = right
        lanes[i] = lane
    return lanes


# -- the drawing --------------------------------------------------------------------------


def render(network: Network, *, id_prefix: str = "family-network") -> str:
    """The SVG for ``network``: an ``img`` labelled by its ``<title>`` and ``<desc>``."""
    groups = _groups(network)
    boxes = {b.member.pk: b for g in groups for b in g.adults + g.children}
    adult_h = max((b.content_height for g in groups for b in g.adults), default=0)
    child_h = max((b.content_height for g in groups for b in g.children), default=0)
    label_h = max((sum(s[1] for _t, s in g.label) for g in groups), default=0)

    # Horizontal positions, homes side by side.
    x = MARGIN
    for g in groups:
        g.x = x
        for row in (g.adults, g.children):
            row_w = len(row) * BOX_W + max(len(row) - 1, 0) * GAP_X
            bx = g.x + PAD + (g.inner_width - row_w) / 2
            for b in row:
                b.x = bx
                bx += BOX_W + GAP_X
        x += g.width + GROUP_GAP
    content_w = x - GROUP_GAP + MARGIN if groups else 2 * MARGIN

    # Partners: neighbours in one home are joined directly; others through lanes above.
    adjacent, laned = [], []
    for a, b in network.partner_links:
        ba, bb = boxes.get(a), boxes.get(b)
        if ba is None or bb is None or not (ba.member.adult_row and bb.member.adult_row):
            continue
        left, right = sorted((ba, bb), key=lambda box: box.x)
        same_home = ba.member.home == bb.member.home and ba.member.home is not None
        if same_home and abs(right.x - left.x - BOX_W - GAP_X) < 1:
            adjacent.append((left, right))
        else:
            laned.append((left, right))
    lanes = _lanes([(left.cx, right.cx) for left, right in laned])
    lane_h = (max(lanes) + 1) * LANE + 8 if lanes else 0

    top = MARGIN + lane_h
    adults_y = top + PAD
    children_y = adults_y + (adult_h + ROW_GAP if adult_h else 0)
    label_y = children_y + child_h + 10
    bottom = label_y + label_h + PAD
    for g in groups:
        for b in g.adults:
            b.y, b.height = adults_y, adult_h
        for b in g.children:
            b.y, b.height = children_y, child_h

    legend = _legend(max(content_w - 2 * MARGIN, 320))
    legend_y = bottom + 24
    width = max(content_w, 320 + 2 * MARGIN)
    height = legend_y + legend[1] + MARGIN

    title_id, desc_id = f"{id_prefix}-title", f"{id_prefix}-desc"
    child = next((m for m in network.members if m.is_child), None)
    title = (
        _("Family network of %(name)s") % {"name": child.name}
        if child and child.named
        else _("Family network of the child")
    )
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:.0f} {height:.0f}" width="{width:.0f}" '
        f'role="img" aria-labelledby="{title_id} {desc_id}" font-family="arial, helvetica, sans-serif" '
        # On a phone it shrinks to fit, but not below MIN_WIDTH (drawings.css): the page lets it
        # scroll. A drawing narrower than that keeps its size.
        f'class="cylch-network{" cylch-network--narrow" if width < MIN_WIDTH else ""}">',
        f'<title id="{title_id}">{_x(title)}</title>',
        f'<desc id="{desc_id}">{_x(describe(network))}</desc>',
        f'<defs><marker id="{id_prefix}-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        f'markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="{INK}"/></marker></defs>',
    ]

    # Homes (behind everything).
    for g in groups:
        if g.home.pk is not None:
            out.append(
                f'<rect x="{g.x:.1f}" y="{top:.1f}" width="{g.width:.1f}" height="{bottom - top:.1f}" rx="14" '
                f'fill="{"#e8f1f8" if g.home.is_child_home else "#f3f2f1"}" stroke="{GREY}" stroke-width="1.5" '
                f'stroke-dasharray="8 5"/>'
            )
        y = label_y
        for text, style in g.label:
            y += style[1]
            out.append(_text(g.x + PAD, y - 4, text, style, extra="" if g.home.pk else ' font-style="italic"'))

    # Parent to child, in the band between the rows.
    links = [
        (boxes[p], boxes[c])
        for p, c in network.parent_links
        if p in boxes and c in boxes and boxes[p].member.adult_row and not boxes[c].member.adult_row
    ]
    for parent, kid in links:
        kids = sorted((k for p, k in links if p is parent), key=lambda b: b.x)
        parents = sorted((p for p, k in links if k is kid), key=lambda b: b.x)
        x1 = parent.cx + _spread(len(kids), kids.index(kid))
        x2 = kid.cx + _spread(len(parents), parents.index(parent))
        out.append(
            f'<line x1="{x1:.1f}" y1="{adults_y + adult_h:.1f}" x2="{x2:.1f}" y2="{children_y - 1:.1f}" '
            f'stroke="{INK}" stroke-width="1.5" marker-end="url(#{id_prefix}-arrow)"/>'
        )

    # Partners.
    for left, right in adjacent:
        y = adults_y + adult_h / 2
        out += _double(f"M {left.x + BOX_W:.1f} {y:.1f} H {right.x:.1f}")
    for (left, right), lane in zip(laned, lanes, strict=True):
        y = top - 8 - lane * LANE
        out += _double(f"M {left.cx:.1f} {adults_y:.1f} V {y:.1f} H {right.cx:.1f} V {adults_y:.1f}")

    for box in boxes.values():
        out += _draw_box(box)

    out += _draw_legend(legend[0], MARGIN, legend_y, id_prefix)
    out.append("</svg>")
    return "\n".join(out)


def _legend(width: float) -> tuple[list[tuple[str, list[str]]], float]:
    items = [
        ("parent", _("Parent or carer, with an arrow to their child")),
        ("partner", _("Partners (double line)")),
        ("home", _("People who live together, inside one dashed outline per home")),
        ("child", _("★ and a thick border: the child this page is about")),
    ]
    text_w = width - 56
    rows = [(kind, wrap(text, LEGEND, text_w)) for kind, text in items]
    height = _legend_heading_h() + sum(max(len(lines) * LEGEND[1], 22) + 6 for _k, lines in rows)
    return rows, height


def _legend_heading_h() -> float:
    return LABEL[1] + 6


def _draw_legend(rows: list[tuple[str, list[str]]], x: float, y: float, id_prefix: str) -> list[str]:
    out = [_text(x, y + LABEL[1] - 4, _("Key"), LABEL)]
    y += _legend_heading_h()
    for kind, lines in rows:
        h = max(len(lines) * LEGEND[1], 22)
        mid = y + h / 2
        if kind == "parent":
            out.append(
                f'<line x1="{x:.1f}" y1="{mid:.1f}" x2="{x + 40:.1f}" y2="{mid:.1f}" stroke="{INK}" '
                f'stroke-width="1.5" marker-end="url(#{id_prefix}-arrow)"/>'
            )
        elif kind == "partner":
            out += _double(f"M {x:.1f} {mid:.1f} H {x + 40:.1f}")
        elif kind == "home":
            out.append(
                f'<rect x="{x:.1f}" y="{mid - 10:.1f}" width="40" height="20" rx="6" fill="#f3f2f1" '
                f'stroke="{GREY}" stroke-width="1.5" stroke-dasharray="8 5"/>'
            )
        else:
            out.append(
                f'<rect x="{x + 2:.1f}" y="{mid - 9:.1f}" width="36" height="18" rx="3" fill="#ffffff" '
                f'stroke="{INK}" stroke-width="4"/>'
            )
        ty = y + (h - len(lines) * LEGEND[1]) / 2
        for line in lines:
            ty += LEGEND[1]
            out.append(_text(x + 56, ty - 5, line, LEGEND))
        y += h + 6
    return out


def describe(network: Network) -> str:
    """A short text version for the ``<desc>``: who is in each home, and what the lines show."""
    homes = [h for h in network.homes if any(m.home == h.pk for m in network.members)]
    parts = [
        ngettext("%(n)s person", "%(n)s people", len(network.members)) % {"n": len(network.members)}
        + ", "
        + ngettext("%(n)s home.", "%(n)s homes.", len([h for h in homes if h.pk is not None]))
        % {"n": len([h for h in homes if h.pk is not None])}
    ]
    for home in homes:
        people = []
        for m in network.members:
            if m.home != home.pk:
                continue
            who = f"{m.name} ({m.role_label}" + (f", {m.age_text}" if m.age_text else "") + ")"
            people.append(who if m.named else f"{m.role_label}" + (f" ({m.age_text})" if m.age_text else ""))
        parts.append(f"{home.label}: {', '.join(people)}.")
    parts.append(_("The table after the diagram gives the same information with parents, partners and needs."))
    return " ".join(parts)
