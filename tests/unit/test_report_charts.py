"""The report's charts render Chinese with a real CJK font, with no glyph missing."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from matplotlib import font_manager

from daemon.reports import charts

PNG = b"\x89PNG\r\n\x1a\n"
ON_TIME = charts.Lines(
    "各时限准时率（近 8 周）",
    tuple(f"第{n}周" for n in range(40, 48)),
    (
        ("首次响应", (100.0, 95.5, None, 80.0, 90.0, 100.0, 87.5, 92.0)),
        ("處理完成", (70.0, 75.0, 80.0, 85.0, None, 90.0, 95.0, 100.0)),
    ),
    "%",
)
BY_CATEGORY = charts.Bars("按类别的投诉", ("服务态度", "维修质量", "價格與收費"), (5, 3, 1), "件")
PENALTIES = charts.Bars("每人罚款", ("吴芳", "郑浩"), (150, 100), "元")


@pytest.fixture(autouse=True)
def missing_glyphs_fail() -> object:
    """Matplotlib only warns when a font lacks a character; here that fails the test."""
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=r".*[Gg]lyph.*missing from")
        yield


@pytest.mark.parametrize("chart", [ON_TIME, BY_CATEGORY, PENALTIES], ids=lambda c: c.title)
def test_a_chart_with_chinese_labels_renders_to_png_with_every_glyph(
    chart: charts.Bars | charts.Lines,
) -> None:
    drawn = charts.render("c", chart)
    assert drawn.png.startswith(PNG) and len(drawn.png) > 5000


def test_without_the_cjk_font_a_chinese_label_fails_the_render() -> None:
    # The check is real: matplotlib's default font has no Chinese, and that is an error here.
    dejavu = Path(font_manager.findfont("DejaVu Sans"))
    with pytest.raises(UserWarning, match="missing from"):
        charts.render("c", BY_CATEGORY, font=dejavu)


def test_an_empty_chart_still_renders() -> None:
    assert charts.render("c", charts.Bars("没有数据", (), ())).png.startswith(PNG)


def test_no_known_font_path_is_reported_with_the_package_to_install(tmp_path: Path) -> None:
    with pytest.raises(charts.FontMissing, match="fonts-noto-cjk"):
        charts.cjk_font((tmp_path / "none.ttc",))
