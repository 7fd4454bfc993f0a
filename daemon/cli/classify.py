"""complaintd classify and complaintd train: try the classifier, fit a model on your own labels."""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tqdm import tqdm

from daemon import classify, intake, rulefiles, train
from daemon.classify import ClassifierSettings, RuleSet
from daemon.cli.common import CommandError, Commands, config_option, load_settings
from daemon.values import Classification

ADDED_COLUMNS = ("category", "department", "severity", "major")


def register(sub: Commands) -> None:
    parser = sub.add_parser(
        "classify",
        parents=[config_option()],
        help="classify a complaint (.eml file, --text, or every row of --csv)",
        description="Print the classification of one complaint as JSON, or add the columns "
        "category, department, severity and major to every row of a CSV file.",
    )
    parser.add_argument(
        "file", nargs="?", type=Path, metavar="FILE.eml", help="a saved e-mail message"
    )
    parser.add_argument("--text", metavar="TEXT", help="the complaint text itself")
    parser.add_argument("--subject", default="", metavar="TEXT", help="a subject to go with --text")
    parser.add_argument(
        "--csv",
        type=Path,
        metavar="FILE",
        help="classify every row of this CSV file ('-' reads stdin) and write "
        "it to stdout with the added columns",
    )
    parser.add_argument("--text-column", metavar="COL", help="with --csv: the complaint column")
    parser.add_argument("--subject-column", metavar="COL", help="with --csv: a subject column")
    parser.add_argument(
        "--model",
        type=Path,
        metavar="MODEL",
        help="a model from complaintd train decides the category "
        "(default: [classifier] model in the config)",
    )
    parser.add_argument(
        "--rules-only",
        action="store_true",
        help="ignore [classifier] model and classify by rules alone",
    )
    parser.set_defaults(handler=_classify)

    trainer = sub.add_parser(
        "train",
        help="fit a category model on labelled complaints; prints cross-validated scores",
        description="Fit a category model on your own labelled complaints, print its "
        "cross-validated F1 per label, and save it for [classifier] model. "
        f"Needs scikit-learn: {train.INSTALL_HINT}",
    )
    trainer.add_argument(
        "--csv",
        type=Path,
        required=True,
        metavar="FILE",
        help="labelled complaints, one per row (UTF-8 or GB18030)",
    )
    trainer.add_argument("--text-column", required=True, metavar="COL")
    trainer.add_argument("--label-column", required=True, metavar="COL")
    trainer.add_argument(
        "--out", type=Path, required=True, metavar="MODEL", help="where to write the model file"
    )
    trainer.add_argument(
        "--folds",
        type=int,
        default=train.TrainSettings().folds,
        metavar="N",
        help="cross-validation folds (default 5; 0 skips cross-validation)",
    )
    trainer.add_argument("--json", action="store_true", help="print the scores as JSON")
    trainer.set_defaults(handler=_train)


def classifier_settings(args: argparse.Namespace) -> ClassifierSettings:
    """[classifier] from the config file when it has one, else the defaults."""
    _, settings = load_settings(args, required=False)
    found = getattr(settings, "classifier", None)
    return found if isinstance(found, ClassifierSettings) else ClassifierSettings()


def _classify(args: argparse.Namespace) -> int:
    sources = [x for x in (args.file, args.text, args.csv) if x is not None]
    if len(sources) != 1:
        raise CommandError("give exactly one of FILE.eml, --text TEXT or --csv FILE")
    if args.csv is not None and not args.text_column:
        raise CommandError("--csv needs --text-column COL naming the complaint column")
    settings = classifier_settings(args)
    rules = _rules(settings)
    model = _model(args, settings)
    if args.csv is not None:
        _classify_csv(args, rules, model)
        return 0
    if args.text is not None:
        subject, text = args.subject, args.text
    else:
        subject, text = _read_mail(args.file)
    result = classify.classify(subject, text, rules, model=model)
    print(json.dumps(as_json(result), ensure_ascii=False, indent=2))
    return 0


def as_json(c: Classification) -> dict[str, Any]:
    return {
        "category": c.category,
        "department": c.department,
        "severity": c.severity,
        "major": list(c.major),
        "evidence": [
            {"target": e.target, "phrase": e.phrase, "weight": e.weight} for e in c.evidence
        ],
        "language": c.language,
        "source": c.source,
    }


def _rules(settings: ClassifierSettings) -> RuleSet:
    try:
        return rulefiles.load_rules(settings)
    except classify.RulesError as exc:
        raise CommandError(
            f"{exc}; fix the file or remove it from [classifier] extra_rules", exit_code=78
        ) from None


def _model(args: argparse.Namespace, settings: ClassifierSettings) -> train.TrainedModel | None:
    path = args.model or (None if args.rules_only else settings.model)
    if path is None:
        return None
    if not Path(path).exists():
        raise CommandError(f"{path}: no such model file; create it with complaintd train")
    try:
        return train.load_model(Path(path))
    except (train.ModelError, train.MissingDependency) as exc:
        raise CommandError(str(exc)) from None


def _read_mail(path: Path) -> tuple[str, str]:
    """Subject and readable text of a saved message."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CommandError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        msg = intake.parse(data)
    except intake.Unreadable as exc:
        raise CommandError(
            f"{path}: not an e-mail message ({exc.reason}); use --text for plain text"
        ) from None
    return msg.subject, msg.text


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """Header and rows of a CSV file in UTF-8 (with or without BOM) or GB18030."""
    try:
        data = sys.stdin.buffer.read() if str(path) == "-" else path.read_bytes()
    except OSError as exc:
        raise CommandError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Spreadsheets saved on Chinese Windows write GBK; GB18030 reads it and more.
        text = data.decode("gb18030", errors="replace")
        print(f"complaintd: {path} is not UTF-8; read it as GB18030", file=sys.stderr)
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = list(reader.fieldnames or [])
    return header, list(reader)


def _column(header: Sequence[str], name: str | None, path: Path) -> str | None:
    if name is not None and name not in header:
        raise CommandError(f"{path}: no column {name!r}; the columns are: {', '.join(header)}")
    return name


def _classify_csv(
    args: argparse.Namespace, rules: RuleSet, model: train.TrainedModel | None
) -> None:
    header, rows = read_csv(args.csv)
    text_col = _column(header, args.text_column, args.csv)
    subject_col = _column(header, args.subject_column, args.csv)
    items = [
        ((row.get(subject_col) or "") if subject_col else "", row.get(text_col or "") or "")
        for row in rows
    ]
    results = classify.classify_many(items, rules, model)
    # An input column with one of our names is kept; ours then gets a suffix.
    added = [c + "_classified" if c in header else c for c in ADDED_COLUMNS]
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow([*header, *added])
    writer.writerows(
        [*(row.get(h, "") for h in header), c.category, c.department, c.severity, ";".join(c.major)]
        for row, c in zip(rows, results, strict=True)
    )


def _train(args: argparse.Namespace) -> int:
    try:
        train.sklearn_version()
    except train.MissingDependency as exc:
        raise CommandError(str(exc)) from None
    if args.folds == 1 or args.folds < 0:
        raise CommandError("--folds must be 0 (no cross-validation) or at least 2")
    header, rows = read_csv(args.csv)
    text_col = _column(header, args.text_column, args.csv) or ""
    label_col = _column(header, args.label_column, args.csv) or ""
    pairs = [((r.get(text_col) or "").strip(), (r.get(label_col) or "").strip()) for r in rows]
    usable = [(t, label) for t, label in pairs if t and label]
    skipped = len(pairs) - len(usable)
    if len({label for _, label in usable}) < 2:
        raise CommandError(
            f"{args.csv}: need rows with at least two different labels in column {label_col!r}"
        )
    texts = [t for t, _ in usable]
    labels = [label for _, label in usable]
    settings = train.TrainSettings(folds=args.folds) if args.folds else train.TrainSettings()
    folds = min(args.folds, len(texts))
    interactive = sys.stderr.isatty()
    report = None
    with tqdm(
        total=folds + 1, unit="fit", disable=not interactive, file=sys.stderr, desc="training"
    ) as bar:
        if folds:
            report = train.cross_validate(texts, labels, settings, progress=bar.update)
        model = train.fit(texts, labels, settings, progress=bar.update)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    train.save_model(model, args.out, report)
    if args.json:
        print(
            json.dumps(
                _report_json(report, args.out, len(texts), skipped), ensure_ascii=False, indent=2
            )
        )
    else:
        _print_report(report, args.out, len(texts), skipped)
    return 0


def _report_json(
    report: train.CvReport | None, out: Path, rows: int, skipped: int
) -> dict[str, Any]:
    data: dict[str, Any] = {"model": str(out), "rows": rows, "skipped_rows": skipped}
    if report is not None:
        data |= {
            "folds": report.folds,
            "macro_f1": round(report.macro_f1, 4),
            "accuracy": round(report.accuracy, 4),
            "labels": [
                {
                    "label": s.label,
                    "precision": round(s.precision, 4),
                    "recall": round(s.recall, 4),
                    "f1": round(s.f1, 4),
                    "support": s.support,
                }
                for s in report.labels
            ],
        }
    return data


def _print_report(report: train.CvReport | None, out: Path, rows: int, skipped: int) -> None:
    note = f" ({skipped} rows without text or label skipped)" if skipped else ""
    if report is not None:
        width = max(_width(s.label) for s in report.labels)
        print(f"{report.folds}-fold cross-validation on {rows} rows{note}:")
        print(f"{_pad('label', width)}  precision  recall     f1  rows")
        for s in report.labels:
            print(
                f"{_pad(s.label, width)}  {s.precision:9.3f}  {s.recall:6.3f}"
                f"  {s.f1:5.3f}  {s.support:4d}"
            )
        print(f"macro-F1 {report.macro_f1:.3f}, accuracy {report.accuracy:.3f}")
        rare = [s.label for s in report.labels if s.support < report.folds]
        if rare:
            print(f"fewer rows than folds, scores unreliable: {', '.join(rare)}")
    else:
        print(f"trained on {rows} rows{note} without cross-validation")
    print(f"model written to {out}")


def _width(text: str) -> int:
    """Terminal columns: a CJK character takes two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))
