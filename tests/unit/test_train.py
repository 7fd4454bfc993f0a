"""The trainable category model: features, fitting, cross-validation, the model file."""

from __future__ import annotations

import csv
import json
import pickle
from pathlib import Path

import pytest

from daemon import app, config, train
from daemon.classify import classify
from daemon.rulefiles import load_rules
from daemon.train import (
    MAGIC,
    ModelError,
    TrainSettings,
    cross_validate,
    fit,
    load_model,
    save_model,
    tokens,
)

VOCABULARY = {
    "fees": ["话费", "扣费", "退费", "套餐费用", "月租", "流量费"],
    "network": ["信号", "上网", "掉线", "网速", "基站", "通话中断"],
    "staff": ["营业员", "态度", "客服", "不耐烦", "推诿", "工作人员"],
}
FILLER = ["客户反映", "请尽快处理", "谢谢", "本月", "家里", "要求回复", "已解释", "不认可"]


def labelled(rows_per_label: int = 15) -> tuple[list[str], list[str]]:
    """Short complaints whose label shows in their words, with shared filler around them."""
    texts, labels = [], []
    for label, words in VOCABULARY.items():
        for i in range(rows_per_label):
            a, b = words[i % len(words)], words[(i * 5 + 1) % len(words)]
            texts.append(f"{FILLER[i % len(FILLER)]}{a}，{b}{FILLER[(i + 3) % len(FILLER)]}")
            labels.append(label)
    return texts, labels


TEXTS, LABELS = labelled()


def test_tokens_are_chinese_characters_latin_words_and_folded_numbers() -> None:
    assert tokens("刹车ABS 2024年 Ｆａｕｌｔ") == ["刹", "车", "abs", "0", "年", "fault"]


def test_masking_asterisks_leave_no_tokens() -> None:
    assert tokens("客户******反映") == ["客", "户", "反", "映"]


def test_fitted_model_predicts_the_label_of_new_wording() -> None:
    model = fit(TEXTS, LABELS)
    assert [label for label, _ in model.predict(["手机没有信号，上网很慢", "营业员态度很差"])] == [
        "network",
        "staff",
    ]


def test_margins_over_the_runner_up_are_never_negative() -> None:
    predictions = fit(TEXTS, LABELS).predict(["随便说点什么", "信号", "谢谢"])
    assert all(margin >= 0 for _, margin in predictions)


def test_model_knows_its_labels() -> None:
    assert fit(TEXTS, LABELS).labels == ("fees", "network", "staff")


def test_two_label_model_predicts_with_a_positive_margin() -> None:
    texts = [t for t, label in zip(TEXTS, LABELS, strict=True) if label != "staff"]
    labels = [label for label in LABELS if label != "staff"]
    ((label, margin),) = fit(texts, labels).predict(["本月话费扣费不对"])
    assert label == "fees" and margin > 0


def test_training_needs_two_labels() -> None:
    with pytest.raises(ValueError, match="two different labels"):
        fit(["a", "b"], ["x", "x"])


def test_cross_validation_scores_every_label() -> None:
    report = cross_validate(TEXTS, LABELS, TrainSettings(folds=3))
    assert [s.label for s in report.labels] == ["fees", "network", "staff"]
    assert [s.support for s in report.labels] == [15, 15, 15]
    assert report.rows == 45 and report.folds == 3
    assert report.macro_f1 > 0.8


def test_cross_validation_reports_progress_once_per_fold() -> None:
    calls: list[int] = []
    cross_validate(TEXTS, LABELS, TrainSettings(folds=4), progress=lambda: calls.append(1))
    assert len(calls) == 4


def test_saved_model_loads_and_predicts_the_same(tmp_path: Path) -> None:
    model = fit(TEXTS, LABELS)
    path = tmp_path / "m.model"
    save_model(model, path, cross_validate(TEXTS, LABELS, TrainSettings(folds=3)))
    loaded = load_model(path)
    probe = ["网速太慢", "退费", "客服推诿"]
    assert loaded.predict(probe) == model.predict(probe)
    assert loaded.name == "m.model"
    assert loaded.header["cv_folds"] == 3


def _write(path: Path, header: dict[str, object], payload: bytes = b"") -> None:
    path.write_bytes(MAGIC + json.dumps(header).encode() + b"\n" + payload)


def test_model_from_another_scikit_learn_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "old.model"
    _write(
        path,
        {"format": train.FORMAT_VERSION, "sklearn": "0.0.1"},
        pickle.dumps(fit(TEXTS, LABELS).pipeline),
    )
    with pytest.raises(ModelError, match=r"scikit-learn 0\.0\.1.*train the model again"):
        load_model(path)


def test_model_of_another_format_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.model"
    _write(path, {"format": train.FORMAT_VERSION + 1, "sklearn": train.sklearn_version()})
    with pytest.raises(ModelError, match="format"):
        load_model(path)


def test_file_that_is_not_a_model_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello", encoding="utf-8")
    with pytest.raises(ModelError, match="not a complaintd model"):
        load_model(path)


def test_truncated_model_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "cut.model"
    _write(
        path,
        {"format": train.FORMAT_VERSION, "sklearn": train.sklearn_version()},
        pickle.dumps(fit(TEXTS, LABELS).pipeline)[:100],
    )
    with pytest.raises(ModelError, match="damaged"):
        load_model(path)


def test_trained_model_plugs_into_classify() -> None:
    result = classify("", "手机没有信号，我要找律师起诉", load_rules(), model=fit(TEXTS, LABELS))
    assert (result.category, result.major) == ("network", ("lawsuit",))


def test_the_model_named_in_config_decides_the_daemons_categories(tmp_path: Path) -> None:
    save_model(fit(TEXTS, LABELS), tmp_path / "shop.model")
    path = tmp_path / "config.toml"
    path.write_text('[classifier]\nmodel = "shop.model"\n', encoding="utf-8")
    triage = app.triage_from_settings(config.load(path))
    result = triage.classify("", "手机没有信号，上网很慢", earlier_tickets=0)
    assert (result.category, result.source) == ("network", "shop.model")


def test_cocc_cross_validated_macro_f1_beats_a_plain_baseline(corpus_dir: Path) -> None:
    with (corpus_dir / "complaints" / "cocc-train.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    report = cross_validate([r["text"] for r in rows], [r["label"] for r in rows])
    assert report.macro_f1 > 0.85
