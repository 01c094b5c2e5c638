"""The server-drawn charts: layout by stage, escaping, bar lengths — no browser needed."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from itertools import pairwise

from api.pages.charts import Bar, Pair, bar_chart_svg, before_after_svg
from api.pages.svg import (
    Edge,
    Node,
    fit,
    graph_svg,
    layout_graph,
    text_width,
    wrap,
)

SVG = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ET.Element:
    return ET.fromstring(str(svg))


def test_text_width_counts_cjk_as_square() -> None:
    assert text_width("身份证", 10) == 30
    assert text_width("abc", 10) < 30


def test_fit_and_wrap_cut_long_names() -> None:
    name = "内资企业设立登记（有限责任公司）变更备案"
    assert fit(name, 10, 1000) == name
    cut = fit(name, 10, 60)
    assert cut.endswith("…") and text_width(cut, 10) <= 60
    lines = wrap(name, 10, 80, 2)
    assert len(lines) == 2 and lines[0] == name[:8] and lines[1].endswith("…")
    assert wrap("短名", 10, 80, 2) == ["短名"]


def test_graph_puts_stages_left_to_right_and_orders_by_predecessors() -> None:
    a, b, c, d = (Node(x, f"事项{x}") for x in "abcd")
    # Stage 2 lists d before c, but c follows a (top) and d follows b (bottom).
    stages = [[a, b], [d, c]]
    edges = [Edge("a", "c", "出生医学证明"), Edge("b", "d")]
    lay = layout_graph(stages, edges)
    assert lay.stage_of == {"a": 0, "b": 0, "c": 1, "d": 1}
    assert lay.boxes["a"][0] == lay.boxes["b"][0] < lay.boxes["c"][0] == lay.boxes["d"][0]
    assert lay.boxes["c"][1] < lay.boxes["d"][1], "the barycentre order avoids the crossing"
    assert lay.width > 2 * lay.boxes["c"][2]


def test_graph_svg_is_well_formed_with_labelled_arrows() -> None:
    stages = [
        [Node("a", "出生医学证明签发", "卫健委 · 1 天")],
        [Node("b", "户口登记")],
    ]
    svg = graph_svg(stages, [Edge("a", "b", "出生医学证明")])
    root = parse(svg)
    assert root.tag == f"{SVG}svg"
    assert len(root.findall(f".//{SVG}path[@class='edge']")) == 1
    labels = [t.text for t in root.iter(f"{SVG}text") if t.text]
    assert "出生医学证明" in labels and "第 1 阶段" in labels and "第 2 阶段" in labels
    assert "<a " not in svg  # nothing focusable inside role="img"


def test_graph_svg_escapes_names() -> None:
    svg = graph_svg([[Node("x", "<script>alert(1)</script>&")]], [])
    parse(svg)
    assert "<script>" not in svg and "&lt;script&gt;" in svg


def test_bar_lengths_follow_the_rates() -> None:
    svg = bar_chart_svg(
        [Bar("兴庆区", 1.0, "10/10"), Bar("金凤区", 0.5, "5/10", href="/x?region=1")], "四同一致率"
    )
    root = parse(svg)
    groups = root.findall(f".//{SVG}g[@class='bar']")
    assert [g.get("data-label") for g in groups] == ["兴庆区", "金凤区"]
    widths = []
    for g in groups:
        track, filled = g.findall(f"{SVG}rect")
        widths.append(float(filled.get("width")) / float(track.get("width")))
    assert widths == [1.0, 0.5]
    assert "<a " not in svg and "100%" in svg  # no link inside the image; a legend


def test_before_after_scales_each_metric_to_itself() -> None:
    svg = before_after_svg([Pair("材料", 12, 4, "份"), Pair("时限", 60, 60, "天")])
    root = parse(svg)
    pairs = root.findall(f".//{SVG}g[@class='pair']")
    assert [(g.get("data-before"), g.get("data-after")) for g in pairs] == [("12", "4"), ("60", "60")]
    before, after = (float(r.get("width")) for r in pairs[0].findall(f"{SVG}rect"))
    assert abs(after / before - 4 / 12) < 1e-3
    assert "减少 8份" in re.sub(r"<[^>]+>", "", str(svg))


def test_labels_in_one_gap_do_not_overlap() -> None:
    # Three arrows into one box, two of them long: their labels share the gap before it.
    a, b, c, d = (Node(x, f"事项{x}") for x in "abcd")
    svg = graph_svg(
        [[a], [b], [c], [d]],
        [Edge("a", "d", "户口簿"), Edge("b", "d", "基本医疗保险参保凭证"), Edge("c", "d", "社会保障卡")],
    )
    plates = [
        (float(r.get("x")), float(r.get("y")))
        for g in parse(svg).iter(f"{SVG}g")
        if g.get("class") == "edge-label"
        for r in g.findall(f"{SVG}rect")
    ]
    assert len(plates) == 3
    ys = sorted(y for _, y in plates)
    assert all(later - earlier >= 18 for earlier, later in pairwise(ys))


def test_arrows_that_skip_a_stage_run_in_lanes_below_the_boxes() -> None:
    a, b, c, d = (Node(x, f"事项{x}") for x in "abcd")
    edges = [Edge("a", "b"), Edge("b", "c"), Edge("a", "c", "户口簿"), Edge("a", "d", "照片"), Edge("c", "d")]
    lay = layout_graph([[a], [b], [c], [d]], edges)
    # a→c and a→d both skip a stage and overlap, so each has its own lane; a→b, b→c, c→d need none.
    assert set(lay.lanes) == {("a", "c"), ("a", "d")}
    assert len(set(lay.lanes.values())) == 2
    bottom = max(y + h for _, y, _, h in lay.boxes.values())
    assert lay.lane_top > bottom
    assert lay.height >= lay.lane_top + 22
    labels = [t.text for t in parse(graph_svg([[a], [b], [c], [d]], edges)).iter(f"{SVG}text")]
    assert "户口簿" in labels and "照片" in labels


def test_the_tall_graph_says_in_words_what_each_step_waits_for() -> None:
    """On a phone the graph has no arrows to tangle: each box names the steps it comes after."""
    from api.pages.svg import graph_svg_tall

    stages = [[Node("a", "出生医学证明签发")], [Node("b", "出生登记"), Node("c", "城乡居民参保登记")]]
    edges = [Edge("a", "b", "出生医学证明"), Edge("a", "c", ""), Edge("b", "zz", "不在图中")]
    root = parse(graph_svg_tall(stages, edges))
    assert list(root.iter(f"{SVG}path")) == []
    after = {
        g.get("data-item"): [t.text for t in g.iter(f"{SVG}text") if t.get("class") == "after"]
        for g in root.iter(f"{SVG}g")
    }
    assert after == {"a": [], "b": ["在「出生医学证明签发」之后"], "c": ["在「出生医学证明签发」之后"]}
    titles = [g.find(f"{SVG}title").text for g in root.iter(f"{SVG}g")]
    assert "出生登记：在出生医学证明签发（出生医学证明）之后" in titles
    assert float(root.get("width")) <= 390


def test_bars_on_a_phone_are_a_list_of_words() -> None:
    from api.pages.charts import bar_chart, bar_list_html

    bars = [Bar("兴庆区", 0.5, "50.0%（1/2）", href="/pages/stats?region=640104"), Bar("<b>", 1.0, "100%")]
    html = str(bar_list_html(bars, "全程网办"))
    assert '<ol class="bars-list" aria-label="全程网办">' in html
    assert '<a href="/pages/stats?region=640104">兴庆区</a>' in html and "&lt;b&gt;" in html
    assert re.findall(r'data-value="([0-9.]+)"', html) == ["0.5000", "1.0000"]
    both = str(bar_chart(bars, "全程网办"))
    assert both.index('class="chart-wide"') < both.index("<svg") < both.index('class="chart-narrow"')
