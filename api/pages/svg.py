"""Charts drawn on the server as inline SVG: the pages need no JavaScript to show them.

Here the primitives (text width, escaping, the `<svg>` frame) and a workflow's precedence graph
(`graph_svg`, `graph_svg_tall`): one column per stage, an arrow per link labelled with what
flows along it. The bar charts are `charts`'s.

Nothing here knows a catalog or a rule: the callers hand over names, numbers
and links. Every piece of text is escaped, so a name from a catalog can never
inject markup into a page.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape
from itertools import pairwise

from markupsafe import Markup

FONT = "'Noto Sans CJK SC','Source Han Sans SC','PingFang SC','Microsoft YaHei',sans-serif"

INK = "#1f2937"
MUTED = "#6b7280"
LINE = "#d1d5db"
BLUE = "#1d4ed8"
BLUE_LIGHT = "#dbeafe"
GREEN = "#15803d"
AMBER = "#b45309"
RED = "#b91c1c"
GREY_BAR = "#6b7280"
# The rate bars: blue, orange, dark red differ in hue and in lightness (colour-blind safe), each
# ≥ 3:1 against white, and the chart writes every value and has a legend.
RATE_FULL = "#1d4ed8"
RATE_NEAR = "#d97706"
RATE_LOW = "#7f1d1d"


def text_width(text: str, size: float) -> float:
    """The width a line of text takes: CJK and full-width characters are square, Latin about half."""
    width = 0.0
    for ch in text:
        code = ord(ch)
        if code >= 0x2E80 or 0xFF00 <= code <= 0xFFEF:
            width += size
        elif ch in "il.,:;|!'":
            width += size * 0.3
        elif ch.isupper() or ch in "mwMW%@":
            width += size * 0.72
        else:
            width += size * 0.56
    return width


def fit(text: str, size: float, width: float) -> str:
    """`text`, cut with an ellipsis when it would not fit in `width`."""
    if text_width(text, size) <= width:
        return text
    cut = text
    while cut and text_width(cut + "…", size) > width:
        cut = cut[:-1]
    return cut + "…"


def wrap(text: str, size: float, width: float, lines: int) -> list[str]:
    """`text` broken into at most `lines` lines of `width`, the last one cut with an ellipsis."""
    out: list[str] = []
    rest = text
    while rest and len(out) < lines - 1:
        n = len(rest)
        while n > 1 and text_width(rest[:n], size) > width:
            n -= 1
        if n == len(rest):
            break
        out.append(rest[:n])
        rest = rest[n:]
    if rest:
        out.append(fit(rest, size, width))
    return out


def _t(value: object) -> str:
    return escape(str(value), quote=True)


def _n(value: float) -> str:
    """A coordinate, short: 12 not 12.0, 12.35 not 12.3456."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _svg(width: float, height: float, body: list[str], label: str, css_class: str) -> Markup:
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" class="{css_class}" role="img" '
        f'aria-label="{_t(label)}" viewBox="0 0 {_n(width)} {_n(height)}" '
        f'width="{_n(width)}" height="{_n(height)}" font-family="{FONT}">'
        f"<title>{_t(label)}</title>" + "".join(body) + "</svg>"
    )


# -- the precedence graph -------------------------------------------------------------------------


@dataclass(frozen=True)
class Node:
    id: str
    title: str
    subtitle: str = ""


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    label: str = ""


@dataclass
class GraphLayout:
    """Where each node sits: the numbers the SVG is drawn from, kept for tests."""

    width: float
    height: float
    boxes: dict[str, tuple[float, float, float, float]] = field(default_factory=dict)  # x, y, w, h
    stage_of: dict[str, int] = field(default_factory=dict)
    lanes: dict[tuple[str, str], int] = field(default_factory=dict)
    """Arrows that skip a stage run below the boxes, each in its lane (so they cross no box)."""
    lane_top: float = 0.0


NODE_W = 196.0
NODE_H = 64.0
COL_GAP = 120.0
ROW_GAP = 26.0
PAD = 16.0
HEAD = 34.0
LANE = 22.0


def layout_graph(stages: Sequence[Sequence[Node]], edges: Sequence[Edge]) -> GraphLayout:
    """One column per stage, left to right; within a column, nodes ordered by where their
    predecessors sit (the barycentre heuristic), so that arrows cross as little as they can."""
    row: dict[str, float] = {}
    ordered: list[list[Node]] = []
    preds: dict[str, list[str]] = {}
    for e in edges:
        preds.setdefault(e.target, []).append(e.source)
    for index, column in enumerate(stages):
        if index == 0:
            col = list(column)
        else:

            def centre(node: Node, position: int) -> tuple[float, int]:
                ps = [row[p] for p in preds.get(node.id, []) if p in row]
                return (sum(ps) / len(ps) if ps else float(position), position)

            col = [
                n for _, n in sorted(((centre(n, i), n) for i, n in enumerate(column)), key=lambda x: x[0])
            ]
        for position, node in enumerate(col):
            row[node.id] = float(position)
        ordered.append(col)
    tallest = max((len(c) for c in ordered), default=0)
    width = PAD * 2 + len(ordered) * NODE_W + max(len(ordered) - 1, 0) * COL_GAP
    bottom = PAD + HEAD + tallest * NODE_H + max(tallest - 1, 0) * ROW_GAP
    stage_of = {node.id: index for index, col in enumerate(ordered) for node in col}
    lanes: dict[tuple[str, str], int] = {}
    lane_ends: list[int] = []
    long = sorted(
        (stage_of[e.source], stage_of[e.target], e.source, e.target)
        for e in edges
        if e.source in stage_of and e.target in stage_of and stage_of[e.target] - stage_of[e.source] > 1
    )
    for start, end, source, target in long:
        if (source, target) in lanes:
            continue
        lane = next((k for k, free_from in enumerate(lane_ends) if free_from <= start), len(lane_ends))
        if lane == len(lane_ends):
            lane_ends.append(end)
        else:
            lane_ends[lane] = end
        lanes[(source, target)] = lane
    height = bottom + PAD + (18 + LANE * len(lane_ends) if lane_ends else 0)
    out = GraphLayout(width=width, height=height, lanes=lanes, lane_top=bottom + 18)
    for index, col in enumerate(ordered):
        x = PAD + index * (NODE_W + COL_GAP)
        used = len(col) * NODE_H + max(len(col) - 1, 0) * ROW_GAP
        top = PAD + HEAD + (tallest * NODE_H + max(tallest - 1, 0) * ROW_GAP - used) / 2
        for position, node in enumerate(col):
            out.boxes[node.id] = (x, top + position * (NODE_H + ROW_GAP), NODE_W, NODE_H)
            out.stage_of[node.id] = index
    return out


def graph_svg(stages: Sequence[Sequence[Node]], edges: Sequence[Edge], label: str = "办理顺序") -> Markup:
    """The precedence graph: stages left to right, an arrow per link with its label."""
    lay = layout_graph(stages, edges)
    body: list[str] = [
        (
            "<defs>"
            '<marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
            f'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="{BLUE}"/></marker>'
            "</defs>"
        )
    ]
    for index in range(len(stages)):
        x = PAD + index * (NODE_W + COL_GAP)
        body.append(
            f'<rect x="{_n(x)}" y="{_n(PAD)}" width="{_n(NODE_W)}" height="24" rx="12" fill="#f3f4f6"/>'
            f'<text x="{_n(x + NODE_W / 2)}" y="{_n(PAD + 16.5)}" text-anchor="middle" font-size="12.5" '
            f'fill="{MUTED}">第 {index + 1} 阶段{"（并联）" if len(stages[index]) > 1 else ""}</text>'
        )

    # Ports: the arrows leaving (entering) a node are spread along its right (left) side.
    outgoing: dict[str, list[Edge]] = {}
    incoming: dict[str, list[Edge]] = {}
    drawn = [e for e in edges if e.source in lay.boxes and e.target in lay.boxes]
    for e in drawn:
        outgoing.setdefault(e.source, []).append(e)
        incoming.setdefault(e.target, []).append(e)

    def port(edges_at: list[Edge], e: Edge, box: tuple[float, float, float, float], other: str) -> float:
        ranked = sorted(edges_at, key=lambda f: lay.boxes[getattr(f, other)][1])
        k = ranked.index(e)
        return box[1] + box[3] * (k + 1) / (len(ranked) + 1)

    # Labels sit in the gap right before the target column, pushed apart when they would overlap.
    placed: dict[tuple[str, str], tuple[float, float, str, str]] = {}
    on_lane: list[tuple[float, float, str, str]] = []
    for e in drawn:
        sx, _, sw, _ = lay.boxes[e.source]
        tx = lay.boxes[e.target][0]
        y1 = port(outgoing[e.source], e, lay.boxes[e.source], "target")
        y2 = port(incoming[e.target], e, lay.boxes[e.target], "source")
        x1, x2 = sx + sw, tx - 2
        lane = lay.lanes.get((e.source, e.target))
        if lane is None:  # the next stage: one curve across the gap
            bend = max((x2 - x1) * 0.5, 30.0)
            curve = ((x1, y1), (x1 + bend, y1), (x2 - bend, y2), (x2, y2))
            d = f"M{_n(x1)},{_n(y1)} C{_n(x1 + bend)},{_n(y1)} {_n(x2 - bend)},{_n(y2)} {_n(x2)},{_n(y2)}"
        else:  # down into its lane in the first gap, along below the boxes, up in the last gap
            ly = lay.lane_top + lane * LANE
            a, b = x1 + COL_GAP * 0.8, x2 - COL_GAP * 0.8
            curve = ((b, ly), (x2 - COL_GAP * 0.35, ly), (x2 - COL_GAP * 0.45, y2), (x2, y2))
            d = (
                f"M{_n(x1)},{_n(y1)} C{_n(x1 + COL_GAP * 0.45)},{_n(y1)} {_n(x1 + COL_GAP * 0.35)},{_n(ly)} "
                f"{_n(a)},{_n(ly)} L{_n(b)},{_n(ly)} C{_n(x2 - COL_GAP * 0.35)},{_n(ly)} "
                f"{_n(x2 - COL_GAP * 0.45)},{_n(y2)} {_n(x2)},{_n(y2)}"
            )
        body.append(
            f'<path class="edge" data-source="{_t(e.source)}" data-target="{_t(e.target)}" d="{d}" '
            f'fill="none" stroke="{BLUE}" stroke-width="1.6" marker-end="url(#arrow)">'
            f"<title>{_t(e.label)}</title></path>"
        )
        if e.label and lane is not None:  # on its own lane, below the columns it passes
            on_lane.append(((a + b) / 2, ly, fit(e.label, 11.5, max(b - a - 20, 60.0)), e.label))
        elif e.label and (e.target, e.label) not in placed:
            mx = x2 - (COL_GAP - 2) / 2
            placed[(e.target, e.label)] = (
                mx,
                _bezier_y(curve, mx),
                fit(e.label, 11.5, COL_GAP - 14),
                e.label,
            )
    by_gap: dict[int, list[list]] = {}
    for (target, _), (mx, my, text, full) in placed.items():
        by_gap.setdefault(lay.stage_of[target], []).append([mx, my, text, full])
    labels: list[str] = []
    for group in by_gap.values():
        group.sort(key=lambda g: g[1])
        for before, after in pairwise(group):
            after[1] = max(after[1], before[1] + 20)
    for mx, my, text, full in [*(g for group in by_gap.values() for g in group), *on_lane]:
        w = text_width(text, 11.5) + 10
        labels.append(
            f'<g class="edge-label"><rect x="{_n(mx - w / 2)}" y="{_n(my - 9)}" width="{_n(w)}" height="18" '
            f'rx="4" fill="#fff" stroke="{BLUE_LIGHT}"/>'
            f'<text x="{_n(mx)}" y="{_n(my + 4)}" text-anchor="middle" font-size="11.5" fill="{BLUE}">'
            f"{_t(text)}<title>{_t(full)}</title></text></g>"
        )
    for column in stages:
        for node in column:
            x, y, w, h = lay.boxes[node.id]
            lines = wrap(node.title, 13.5, w - 20, 2 if node.subtitle else 3)
            first = y + (h - 17 * len(lines) - (15 if node.subtitle else 0)) / 2 + 13
            texts = "".join(
                f'<text x="{_n(x + 10)}" y="{_n(first + 17 * i)}" font-size="13.5" font-weight="600" '
                f'fill="{INK}">{_t(line)}</text>'
                for i, line in enumerate(lines)
            )
            if node.subtitle:
                texts += (
                    f'<text x="{_n(x + 10)}" y="{_n(first + 17 * len(lines) + 1)}" font-size="11.5" '
                    f'fill="{MUTED}">{_t(fit(node.subtitle, 11.5, w - 20))}</text>'
                )
            box = (
                f'<g class="node" data-item="{_t(node.id)}"><title>{_t(node.title)}</title>'
                f'<rect x="{_n(x)}" y="{_n(y)}" width="{_n(w)}" height="{_n(h)}" rx="8" fill="#fff" '
                f'stroke="{BLUE}" stroke-width="1.3"/>'
                f'<rect x="{_n(x)}" y="{_n(y)}" width="4" height="{_n(h)}" fill="{BLUE}"/>{texts}</g>'
            )
            body.append(box)  # no link inside role="img": the steps table links each item
    body.extend(labels)
    return _svg(lay.width, lay.height, body, label, "chart graph")


TALL_W = 340.0
"""The vertical graph's width: it fits a 390 px phone with the page's margins."""


def graph_svg_tall(
    stages: Sequence[Sequence[Node]], edges: Sequence[Edge], label: str = "办理顺序"
) -> Markup:
    """The precedence graph for a narrow screen: stages top to bottom, each node a full-width
    box that says in words what it waits for ("在「A」「B」之后") — no arrows, which on a phone's
    width could only run down one margin and tangle (what flows along each link is in the steps
    list below the graph, and in each box's title)."""
    body: list[str] = []
    width, gap, head = TALL_W, 34.0, 26.0
    titles = {node.id: node.title for column in stages for node in column}
    after: dict[str, list[Edge]] = {}
    for e in edges:
        if e.source in titles and e.target in titles:
            after.setdefault(e.target, []).append(e)
    y = PAD
    for index, column in enumerate(stages):
        body.append(
            f'<text x="{_n(PAD)}" y="{_n(y + 16)}" font-size="12.5" fill="{MUTED}">'
            f"第 {index + 1} 阶段{'（并联）' if len(column) > 1 else ''}</text>"
        )
        y += head
        for node in column:
            x, w = PAD, width - 2 * PAD
            waits = after.get(node.id, [])
            h = 70.0 if waits else 52.0
            texts = (
                f'<text x="{_n(x + 10)}" y="{_n(y + 21)}" font-size="13.5" font-weight="600" fill="{INK}">'
                f"{_t(fit(node.title, 13.5, w - 20))}</text>"
            )
            if node.subtitle:
                texts += (
                    f'<text x="{_n(x + 10)}" y="{_n(y + 40)}" font-size="11.5" fill="{MUTED}">'
                    f"{_t(fit(node.subtitle, 11.5, w - 20))}</text>"
                )
            title = node.title
            if waits:
                names = "".join(f"「{titles[e.source]}」" for e in waits)
                texts += (
                    f'<text class="after" x="{_n(x + 10)}" y="{_n(y + 59)}" font-size="11.5" fill="{BLUE}">'
                    f"{_t(fit('在' + names + '之后', 11.5, w - 20))}</text>"
                )
                title += (
                    "：在"
                    + "、".join(titles[e.source] + (f"（{e.label}）" if e.label else "") for e in waits)
                    + "之后"
                )
            sources = " ".join(e.source for e in waits)
            body.append(
                f'<g class="node" data-item="{_t(node.id)}" data-after="{_t(sources)}"><title>{_t(title)}</title>'
                f'<rect x="{_n(x)}" y="{_n(y)}" width="{_n(w)}" height="{_n(h)}" rx="8" fill="#fff" '
                f'stroke="{BLUE}" stroke-width="1.3"/>'
                f'<rect x="{_n(x)}" y="{_n(y)}" width="4" height="{_n(h)}" fill="{BLUE}"/>{texts}</g>'
            )
            y += h + 8
        y += gap - 8
    return _svg(width, y + PAD - gap + 8, body, label, "chart graph graph-tall")


def _bezier_y(curve: tuple[tuple[float, float], ...], x: float) -> float:
    """The y of a cubic Bézier at (about) the given x: the curves here run left to right."""
    (x0, y0), (x1, y1), (x2, y2), (x3, y3) = curve
    best, best_y = float("inf"), y0
    for i in range(65):
        t = i / 64
        u = 1 - t
        px = u**3 * x0 + 3 * u * u * t * x1 + 3 * u * t * t * x2 + t**3 * x3
        if abs(px - x) < best:
            best, best_y = abs(px - x), u**3 * y0 + 3 * u * u * t * y1 + 3 * u * t * t * y2 + t**3 * y3
    return best_y
