"""A category model fitted on the shop's own labelled complaints (needs the `train` extra).

Features: TF-IDF (sublinear) over unigrams and bigrams of tokens, where every Chinese character
is a token and every Latin word is one, digits folded to "0" and masking asterisks dropped. For
Chinese that is character 1-2-grams, which carry most of the signal without word segmentation;
for English it is words and word pairs. Classifier: a linear SVM with class weights balanced, so a
rare label is not drowned by a common one.

A model file is one header line of JSON after a magic line, then the pickled scikit-learn
pipeline. The header is read first: a file of another format version or from another
scikit-learn version is refused before anything is unpickled. Unpickling runs code: load only
model files you made yourself.
"""

from __future__ import annotations

import json
import logging
import pickle
import re
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from daemon.charsets import HAN_CLASS
from daemon.language import nfkc

log = logging.getLogger(__name__)

MAGIC = b"complaintd-model\n"
FORMAT_VERSION = 1
INSTALL_HINT = "pip install 'complaintd[train]'"

Progress = Callable[[], None]  # called once per finished fitting step


class MissingDependency(RuntimeError):
    """scikit-learn is not installed."""


class ModelError(ValueError):
    """A model file that cannot be used; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class TrainSettings:
    folds: int = 5
    seed: int = 0
    # Inverse regularisation strength of the linear SVM.
    c: float = 1.0


@dataclass(frozen=True, slots=True)
class LabelScore:
    label: str
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True, slots=True)
class CvReport:
    folds: int
    rows: int
    macro_f1: float
    accuracy: float
    labels: tuple[LabelScore, ...]


def sklearn_version() -> str:
    """The installed scikit-learn version; MissingDependency says what to install."""
    try:
        import sklearn
    except ImportError:
        raise MissingDependency(
            f"scikit-learn is not installed; install the train extra: {INSTALL_HINT}"
        ) from None
    return str(sklearn.__version__)


_TOKEN = re.compile(rf"[a-z]+|\d+|[{HAN_CLASS}]")


def tokens(text: str) -> list[str]:
    """Chinese characters one by one, Latin words whole, every number as "0"."""
    folded = nfkc(text).casefold()
    return ["0" if t[0].isdigit() else t for t in _TOKEN.findall(folded)]


def build_pipeline(settings: TrainSettings = TrainSettings()) -> Any:
    """An unfitted scikit-learn pipeline: token n-gram TF-IDF, then a linear SVM."""
    sklearn_version()
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import Pipeline
    from sklearn.svm import LinearSVC

    vectoriser = TfidfVectorizer(
        analyzer="word",
        tokenizer=tokens,
        token_pattern=None,
        lowercase=False,
        ngram_range=(1, 2),
        sublinear_tf=True,
    )
    svm = LinearSVC(C=settings.c, class_weight="balanced")
    return Pipeline([("features", vectoriser), ("svm", svm)])


class TrainedModel:
    """A fitted pipeline with its labels; predicts one label and a margin per text."""

    def __init__(self, pipeline: Any, header: dict[str, Any], name: str = "model") -> None:
        self.pipeline = pipeline
        self.header = header
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(str(x) for x in self.pipeline.classes_)

    def predict(self, texts: Sequence[str]) -> list[tuple[str, float]]:
        """(label, margin over the runner-up) per text; a larger margin is a surer answer."""
        if not texts:
            return []
        scores = self.pipeline.decision_function(list(texts))
        classes = self.pipeline.classes_
        if scores.ndim == 1:  # two labels: one signed score, positive for the second
            return [(str(classes[int(s > 0)]), round(abs(float(s)), 3)) for s in scores]
        ranked = scores.argsort(axis=1)
        return [
            (str(classes[order[-1]]), round(float(row[order[-1]] - row[order[-2]]), 3))
            for order, row in zip(ranked, scores, strict=True)
        ]


def check_training_data(labels: Sequence[str]) -> None:
    if len(set(labels)) < 2:
        raise ValueError("training needs at least two different labels")


def fit(
    texts: Sequence[str],
    labels: Sequence[str],
    settings: TrainSettings = TrainSettings(),
    progress: Progress | None = None,
) -> TrainedModel:
    """A model fitted on all rows."""
    check_training_data(labels)
    pipeline = build_pipeline(settings)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter on tiny sets says nothing useful
        pipeline.fit(list(texts), list(labels))
    if progress:
        progress()
    header = {
        "format": FORMAT_VERSION,
        "sklearn": sklearn_version(),
        "rows": len(texts),
        "labels": sorted(Counter(labels).items()),
        "c": settings.c,
    }
    return TrainedModel(pipeline, header)


def cross_validate(
    texts: Sequence[str],
    labels: Sequence[str],
    settings: TrainSettings = TrainSettings(),
    progress: Progress | None = None,
) -> CvReport:
    """Stratified k-fold predictions for every row, scored per label and as macro-F1."""
    check_training_data(labels)
    sklearn_version()
    from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support
    from sklearn.model_selection import StratifiedKFold

    folds = min(settings.folds, len(texts))
    if folds < 2:
        raise ValueError("cross-validation needs at least two rows")
    text_list, label_list = list(texts), list(labels)
    predicted: list[str] = [""] * len(text_list)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=settings.seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # labels rarer than the fold count only warn
        for train_index, test_index in splitter.split(text_list, label_list):
            pipeline = build_pipeline(settings)
            pipeline.fit([text_list[i] for i in train_index], [label_list[i] for i in train_index])
            for i, label in zip(
                test_index, pipeline.predict([text_list[i] for i in test_index]), strict=True
            ):
                predicted[i] = str(label)
            if progress:
                progress()
    names = sorted(set(label_list))
    precision, recall, f1, support = precision_recall_fscore_support(
        label_list, predicted, labels=names, zero_division=0
    )
    scores = tuple(
        LabelScore(n, float(p), float(r), float(f), int(s))
        for n, p, r, f, s in zip(names, precision, recall, f1, support, strict=True)
    )
    return CvReport(
        folds=folds,
        rows=len(text_list),
        macro_f1=float(
            f1_score(label_list, predicted, labels=names, average="macro", zero_division=0)
        ),
        accuracy=float(accuracy_score(label_list, predicted)),
        labels=scores,
    )


def save_model(model: TrainedModel, path: Path, report: CvReport | None = None) -> None:
    """Write the model; the header records the format, scikit-learn version and CV score."""
    header = dict(model.header)
    if report is not None:
        header["cv_macro_f1"] = round(report.macro_f1, 4)
        header["cv_folds"] = report.folds
    data = MAGIC + json.dumps(header, ensure_ascii=False).encode() + b"\n"
    data += pickle.dumps(model.pipeline, protocol=pickle.HIGHEST_PROTOCOL)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def load_model(path: Path) -> TrainedModel:
    """Read a model written by save_model; ModelError for anything that is not usable here."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ModelError(f"{path}: cannot read model file: {exc.strerror}") from None
    if not data.startswith(MAGIC):
        raise ModelError(f"{path}: not a complaintd model file; create one with complaintd train")
    line_end = data.find(b"\n", len(MAGIC))
    try:
        header = json.loads(data[len(MAGIC) : line_end])
    except ValueError:
        raise ModelError(f"{path}: damaged model header; train the model again") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT_VERSION:
        found = header.get("format") if isinstance(header, dict) else None
        raise ModelError(
            f"{path}: model format {found!r}, this complaintd reads format {FORMAT_VERSION}; "
            "train the model again with complaintd train"
        )
    installed = sklearn_version()
    if header.get("sklearn") != installed:
        raise ModelError(
            f"{path}: trained with scikit-learn {header.get('sklearn')}, but {installed} is "
            f"installed; train the model again with complaintd train (or install "
            f"scikit-learn=={header.get('sklearn')})"
        )
    try:
        pipeline = pickle.loads(data[line_end + 1 :])
    except Exception as exc:  # noqa: BLE001 (unpickling raises whatever the payload's classes raise)
        raise ModelError(f"{path}: damaged model file ({exc}); train the model again") from None
    return TrainedModel(pipeline, header, Path(path).name)
