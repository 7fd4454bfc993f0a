"""Quality and speed of the complaint classifier on the shared corpus.

    .venv/bin/python benchmarks/classify_quality.py [--corpus ../shared/corpus]

Prints:
- trained model: 5-fold cross-validated macro-F1 on cocc-train.csv (all rows) and on
  12365auto-train.csv (rows with exactly one top-level category; labels with fewer rows than
  folds are left out, as no fold could score them), and the training time on about 2,400 rows;
- built-in rules, no training: on 12365auto rows whose group is exactly one of 质量问题 /
  服务问题, how often product_quality versus the service family (service, repair_quality) agrees
  with the group (customer_issue and other count as wrong), with each group's recall;
- throughput of `complaintd classify --csv` on 10,000 rows made by repeating the cocc texts,
  by rules alone and with a model, as a real process (start-up included).
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from daemon import classify, rulefiles, train  # noqa: E402

FOLDS = 5
SERVICE_FAMILY = ("service", "repair_quality")


def read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def trained(corpus: Path) -> None:
    cocc = read(corpus / "complaints" / "cocc-train.csv")
    texts, labels = [r["text"] for r in cocc], [r["label"] for r in cocc]
    report = train.cross_validate(texts, labels, train.TrainSettings(folds=FOLDS))
    print(
        f"trained  cocc          {FOLDS}-fold macro-F1 {report.macro_f1:.4f}  "
        f"accuracy {report.accuracy:.4f}  ({report.rows} rows, {len(report.labels)} labels)"
    )
    for s in report.labels:
        print(f"           {s.label:<10} F1 {s.f1:.3f}")

    auto = read(corpus / "complaints" / "12365auto-train.csv")
    single = [
        r
        for r in auto
        if r["label"] and "|" not in r["label"] and not r["label"].startswith("未知")
    ]
    counts = Counter(r["label"] for r in single)
    kept = [r for r in single if counts[r["label"]] >= FOLDS]
    dropped = sorted(label for label, n in counts.items() if n < FOLDS)
    report = train.cross_validate(
        [r["text"] for r in kept], [r["label"] for r in kept], train.TrainSettings(folds=FOLDS)
    )
    print(
        f"trained  12365auto     {FOLDS}-fold macro-F1 {report.macro_f1:.4f}  "
        f"accuracy {report.accuracy:.4f}  ({report.rows} single-label rows, "
        f"{len(report.labels)} labels; left out, fewer than {FOLDS} rows: "
        f"{', '.join(dropped) or 'none'})"
    )

    doubled_texts, doubled_labels = texts * 2, labels * 2
    started = time.perf_counter()
    train.cross_validate(doubled_texts, doubled_labels, train.TrainSettings(folds=FOLDS))
    train.fit(doubled_texts, doubled_labels)
    print(
        f"trained  time          {FOLDS}-fold CV + final fit on {len(doubled_texts)} rows: "
        f"{time.perf_counter() - started:.1f} s"
    )


def rules(corpus: Path) -> None:
    rule_set = rulefiles.load_rules()
    auto = read(corpus / "complaints" / "12365auto-train.csv")
    for name, rows in (
        ("group-single", [r for r in auto if r["group"] in ("质量问题", "服务问题")]),
        (
            "label-single",
            [
                r
                for r in auto
                if r["group"] in ("质量问题", "服务问题") and r["label"] and "|" not in r["label"]
            ],
        ),
    ):
        results = classify.classify_many([("", r["text"]) for r in rows], rule_set)
        hits: Counter[str] = Counter()
        totals: Counter[str] = Counter()
        for row, result in zip(rows, results, strict=True):
            quality = row["group"] == "质量问题"
            totals[row["group"]] += 1
            if (
                (result.category == "product_quality")
                if quality
                else (result.category in SERVICE_FAMILY)
            ):
                hits[row["group"]] += 1
        accuracy = sum(hits.values()) / len(rows)
        recalls = {g: hits[g] / totals[g] for g in totals}
        balanced = sum(recalls.values()) / len(recalls)
        print(
            f"rules    12365auto {name}: accuracy {accuracy:.4f}  balanced {balanced:.4f}  "
            f"(质量问题 {recalls['质量问题']:.3f} of {totals['质量问题']}, "
            f"服务问题 {recalls['服务问题']:.3f} of {totals['服务问题']})"
        )


def throughput(corpus: Path, rows: int = 10_000) -> None:
    cocc = read(corpus / "complaints" / "cocc-train.csv")
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "rows.csv"
        with data.open("w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["id", "text"])
            for i in range(rows):
                writer.writerow([i, cocc[i % len(cocc)]["text"]])
        model = Path(tmp) / "cocc.model"
        fitted = train.fit([r["text"] for r in cocc], [r["label"] for r in cocc])
        train.save_model(fitted, model)
        config = Path(tmp) / "config.toml"
        config.write_text("", encoding="utf-8")
        for label, extra in (("rules", []), ("model", ["--model", str(model)])):
            command = [
                sys.executable,
                "-m",
                "daemon.cli",
                "classify",
                "--config",
                str(config),
                "--csv",
                str(data),
                "--text-column",
                "text",
                *extra,
            ]
            started = time.perf_counter()
            done = subprocess.run(
                command,
                capture_output=True,
                cwd=ROOT,
                check=True,
                env=os.environ | {"PYTHONPATH": str(ROOT)},
            )
            elapsed = time.perf_counter() - started
            written = done.stdout.count(b"\n") - 1
            print(
                f"csv      {label:<5} {written} rows in {elapsed:.2f} s = "
                f"{written / elapsed:,.0f} texts/s (process start included)"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--corpus",
        type=Path,
        default=Path(os.environ.get("COMPLAINTD_CORPUS", ROOT.parent / "shared" / "corpus")),
    )
    args = parser.parse_args()
    trained(args.corpus)
    rules(args.corpus)
    throughput(args.corpus)


if __name__ == "__main__":
    main()
