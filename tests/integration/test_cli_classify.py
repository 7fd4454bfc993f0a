"""complaintd classify and complaintd train, run as real processes."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
from pathlib import Path

import pytest
from support import process
from support.mail import complaint

ROWS = {
    "fees": ["本月话费扣费不对", "套餐月租多收了", "流量费乱扣", "退费一直没到账", "扣费不明"],
    "network": ["家里手机没有信号", "上网总是掉线", "网速太慢", "通话中断", "基站信号弱"],
    "staff": ["营业员态度很差", "客服推诿不处理", "工作人员不耐烦", "营业厅排队太久", "客服骂人"],
}


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """An empty config file: every setting at its default, whatever ./config.toml says."""
    path = tmp_path / "config.toml"
    path.write_text("", encoding="utf-8")
    return path


@pytest.fixture
def labelled_csv(tmp_path: Path) -> Path:
    path = tmp_path / "history.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "complaint", "label"])
        n = 0
        for label, texts in ROWS.items():
            for repeat in range(3):
                for text in texts:
                    n += 1
                    writer.writerow([n, f"客户反映{text}，请处理{'谢谢' * repeat}", label])
    return path


def _train_args(data: Path, out: Path, text_column: str = "complaint") -> list[str | Path]:
    return [
        "train",
        "--csv",
        data,
        "--text-column",
        text_column,
        "--label-column",
        "label",
        "--out",
        out,
    ]


@pytest.fixture
def model(tmp_path: Path, labelled_csv: Path) -> Path:
    out = tmp_path / "shop.model"
    process.run(
        *_train_args(labelled_csv, out),
        "--folds",
        "3",
    )
    return out


def _csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


# -- train ----------------------------------------------------------------------------------------


def test_train_then_classify_with_the_model_names_a_trained_label(
    model: Path, config: Path
) -> None:
    result = process.run_json(
        "classify",
        "--config",
        config,
        "--model",
        model,
        "--text",
        "手机在家里没有信号，上网掉线，我要找律师",
    )
    assert result["category"] == "network"
    assert result["source"] == "shop.model"
    assert result["major"] == ["lawsuit"]


def test_train_prints_cross_validated_f1_per_label(labelled_csv: Path, tmp_path: Path) -> None:
    out = process.run(
        *_train_args(labelled_csv, tmp_path / "m.model"),
    ).stdout
    assert "5-fold cross-validation on 45 rows" in out
    assert all(label in out for label in ROWS)
    assert "macro-F1" in out


def test_train_json_report_has_a_score_per_label(labelled_csv: Path, tmp_path: Path) -> None:
    report = process.run_json(
        *_train_args(labelled_csv, tmp_path / "m.model"),
        "--json",
    )
    assert [s["label"] for s in report["labels"]] == sorted(ROWS)
    assert 0 <= report["macro_f1"] <= 1


def test_train_without_a_terminal_writes_nothing_to_stderr(
    labelled_csv: Path, tmp_path: Path
) -> None:
    result = process.run(
        *_train_args(labelled_csv, tmp_path / "m.model"),
    )
    assert result.stderr == ""


def test_train_on_a_terminal_shows_a_progress_bar(labelled_csv: Path, tmp_path: Path) -> None:
    seen = process.run_on_terminal(*_train_args(labelled_csv, tmp_path / "m.model"))
    assert b"training" in seen and b"6/6" in seen


def test_train_names_the_columns_when_one_is_missing(labelled_csv: Path, tmp_path: Path) -> None:
    result = process.run(
        *_train_args(labelled_csv, tmp_path / "m.model", "text"),
        check=False,
    )
    assert result.returncode == 1
    assert "no column 'text'" in result.stderr and "complaint" in result.stderr


def test_train_needs_two_labels(tmp_path: Path) -> None:
    data = tmp_path / "one.csv"
    data.write_text("text,label\n发动机异响,q\n变速箱顿挫,q\n", encoding="utf-8")
    result = process.run(
        *_train_args(data, tmp_path / "m.model", "text"),
        check=False,
    )
    assert result.returncode == 1 and "two different labels" in result.stderr


# -- classify -------------------------------------------------------------------------------------


def test_classify_text_prints_the_documented_keys(config: Path) -> None:
    result = process.run_json(
        "classify",
        "--config",
        config,
        "--text",
        "提车一个月发动机漏油，销售顾问不理不睬，我要找媒体曝光",
    )
    assert {"category", "department", "severity", "major", "evidence", "language"} <= set(result)
    assert result["major"] == ["media"]
    assert {"target": "major:media", "phrase": "曝光", "weight": 1.0} in result["evidence"]
    assert result["language"] == "zh-CN"


def test_classify_reads_subject_and_body_of_a_mail_file(tmp_path: Path, config: Path) -> None:
    mail = tmp_path / "complaint.eml"
    mail.write_bytes(
        complaint(
            text="車子在高速上煞車失靈，請盡快處理。",
            subject="煞車問題",
            name="陳大文",
            charset="big5",
        )
    )
    result = process.run_json("classify", "--config", config, mail)
    assert (result["category"], result["language"]) == ("product_quality", "zh-TW")
    assert "safety" in result["major"]


def test_classify_csv_adds_the_four_columns(tmp_path: Path, config: Path) -> None:
    data = tmp_path / "in.csv"
    data.write_text('id,body\n1,发动机异响\n2,"服务态度差, 我要起诉"\n', encoding="utf-8")
    out = process.run("classify", "--config", config, "--csv", data, "--text-column", "body").stdout
    rows = _csv_rows(out)
    assert list(rows[0]) == ["id", "body", "category", "department", "severity", "major"]
    assert [(r["id"], r["category"], r["major"]) for r in rows] == [
        ("1", "product_quality", ""),
        ("2", "service", "lawsuit"),
    ]


def test_classify_csv_keeps_an_existing_category_column(tmp_path: Path, config: Path) -> None:
    data = tmp_path / "in.csv"
    data.write_text("text,category\n发动机异响,质量\n", encoding="utf-8")
    (row,) = _csv_rows(
        process.run("classify", "--config", config, "--csv", data, "--text-column", "text").stdout
    )
    assert (row["category"], row["category_classified"]) == ("质量", "product_quality")


def test_classify_csv_with_a_model_writes_the_models_labels(
    model: Path, config: Path, tmp_path: Path
) -> None:
    data = tmp_path / "in.csv"
    data.write_text("text\n营业员态度很差\n网速太慢总掉线\n", encoding="utf-8")
    rows = _csv_rows(
        process.run(
            "classify", "--config", config, "--model", model, "--csv", data, "--text-column", "text"
        ).stdout
    )
    assert [r["category"] for r in rows] == ["staff", "network"]


def test_classify_reads_a_gb18030_csv(tmp_path: Path, config: Path) -> None:
    data = tmp_path / "gbk.csv"
    data.write_bytes("text\n变速箱漏油\n".encode("gb18030"))
    result = process.run("classify", "--config", config, "--csv", data, "--text-column", "text")
    assert _csv_rows(result.stdout)[0]["category"] == "product_quality"
    assert "GB18030" in result.stderr


def test_classify_with_a_missing_model_says_how_to_make_one(tmp_path: Path, config: Path) -> None:
    result = process.run(
        "classify",
        "--config",
        config,
        "--model",
        tmp_path / "none.model",
        "--text",
        "发动机异响",
        check=False,
    )
    assert result.returncode == 1 and "complaintd train" in result.stderr


def test_classify_refuses_two_inputs_at_once(tmp_path: Path, config: Path) -> None:
    result = process.run(
        "classify",
        "--config",
        config,
        "--text",
        "x",
        "--csv",
        tmp_path / "a.csv",
        "--text-column",
        "t",
        check=False,
    )
    assert result.returncode == 1 and "exactly one of" in result.stderr


# -- without scikit-learn -------------------------------------------------------------------------


@pytest.fixture
def without_sklearn(tmp_path: Path) -> dict[str, str]:
    """An environment in which `import sklearn` fails, as on an install without the train extra."""
    blocker = tmp_path / "blocker" / "sklearn"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text('raise ImportError("no sklearn here")\n')
    env = process.env()
    env["PYTHONPATH"] = f"{blocker.parent}{os.pathsep}{process.ROOT}"
    return env


def _run(env: dict[str, str], *args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        process.command(*args),
        capture_output=True,
        text=True,
        env=env,
        cwd=process.ROOT,
        timeout=120,
    )


def test_rules_classify_without_scikit_learn(without_sklearn: dict[str, str], config: Path) -> None:
    result = _run(without_sklearn, "classify", "--config", config, "--text", "发动机异响")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["category"] == "product_quality"


def test_train_without_scikit_learn_says_what_to_install(
    without_sklearn: dict[str, str], labelled_csv: Path, tmp_path: Path
) -> None:
    result = _run(
        without_sklearn,
        *_train_args(labelled_csv, tmp_path / "m.model"),
    )
    assert result.returncode == 1
    assert "pip install 'complaintd[train]'" in result.stderr


def test_classify_with_a_model_without_scikit_learn_says_what_to_install(
    without_sklearn: dict[str, str], model: Path, config: Path
) -> None:
    result = _run(
        without_sklearn, "classify", "--config", config, "--model", model, "--text", "发动机异响"
    )
    assert result.returncode == 1
    assert "pip install 'complaintd[train]'" in result.stderr
