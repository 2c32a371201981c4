"""The intent classifier: TF-IDF over words and characters, a linear model, our own data.

Trained at first use from the committed utterances (assistant/nlu/data/train.jsonl), in
well under a second (`manage.py assistant_train` reports the time and the held-out
figures), so there is no model file to load, verify or keep in step with scikit-learn's
version: the data is the model. Emergency is never a class here: red flags are rules
(assistant/nlu/redflags/), and a message that passes them is one of the other intents.
"""

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from assistant.nlu.data import TRAINING_FILE


def clean(text: str) -> str:
    """What the classifier reads: lower case, apostrophes dropped, digits as 0."""
    text = text.lower().replace("\u2019", "'").replace("'", "")
    text = re.sub(r"\d", "0", text)
    return " ".join(re.sub(r"[^a-z0 ]+", " ", text).split())


def training_rows(path: Path = TRAINING_FILE) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def build(rows: list[dict[str, Any]]) -> Any:
    """A fitted pipeline for these rows (emergency rows are left to the rules)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import FeatureUnion, make_pipeline
    from sklearn.svm import LinearSVC

    rows = [row for row in rows if row["intent"] != "emergency"]
    features = FeatureUnion(
        [
            ("words", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1)),
            (
                "chars",
                TfidfVectorizer(
                    analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2
                ),
            ),
        ]
    )
    model = make_pipeline(features, LinearSVC(C=0.5, class_weight="balanced"))
    model.fit([clean(row["text"]) for row in rows], [row["intent"] for row in rows])
    return model


@lru_cache(maxsize=1)
def model() -> Any:
    """The classifier, trained once per process from the committed data."""
    return build(training_rows())


@lru_cache(maxsize=1)
def _scorer() -> tuple[list[Any], Any, Any, Any]:
    """The fitted parts, to score one message without the pipeline's per-call checks."""
    features, svm = model().steps[0][1], model().steps[1][1]
    vectorizers = [vectorizer for _, vectorizer in features.transformer_list]
    return vectorizers, svm.coef_.T, svm.intercept_, svm.classes_


def classify(text: str) -> str:
    """The intent, as model().predict() gives it (a test checks), in a third of the time."""
    import numpy as np
    import scipy.sparse as sp

    vectorizers, coef, intercept, classes = _scorer()
    cleaned = [clean(text)]
    row = sp.hstack([vectorizer.transform(cleaned) for vectorizer in vectorizers]).tocsr()
    return str(classes[int(np.argmax(row @ coef + intercept))])
