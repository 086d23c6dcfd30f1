"""The learned classifier: a logistic regression over TF-IDF of words (jieba segments
Chinese) and of character n-grams, trained on past incidents' final problem types.
Deterministic: the same examples in the same order give the same model."""
from __future__ import annotations

import logging
import re
from collections.abc import Sequence

import jieba
import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion

from services.incidents.intake.rules import Guess

jieba.setLogLevel(logging.WARNING)
_WORDLIKE = re.compile(r"[\w\u4e00-\u9fff]")


def words(text: str) -> list[str]:
    """jieba's words, lower-cased, without spaces and punctuation."""
    return [w for w in jieba.lcut(text.lower()) if _WORDLIKE.search(w)]


class TypeModel:
    def __init__(self, texts: Sequence[str], labels: Sequence[str]) -> None:
        self.features = FeatureUnion([
            ("word", TfidfVectorizer(tokenizer=words, token_pattern=None, lowercase=False,
                                     sublinear_tf=True)),
            # Character n-grams catch what segmentation splits oddly and English word parts.
            ("char", TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), sublinear_tf=True)),
        ])
        matrix = self.features.fit_transform(texts)
        self.model = LogisticRegression(C=10.0, max_iter=2000)
        self.model.fit(matrix, labels)
        self.names = self.features.get_feature_names_out()
        self.classes: list[str] = [str(c) for c in self.model.classes_]

    def guess(self, text: str, top: int = 5) -> Guess:
        x = self.features.transform([text])
        probabilities = self.model.predict_proba(x)[0]
        k = int(np.argmax(probabilities))
        return Guess("model", self.classes[k], round(float(probabilities[k]), 3),
                     tuple(self._why(x, k, top)))

    def _why(self, x, k: int, top: int) -> list[str]:
        """The features that pushed most towards class k (tf-idf value × weight)."""
        coef = self.model.coef_
        weights = coef[k] if coef.shape[0] > 1 else (coef[0] if k == 1 else -coef[0])
        row = x.tocoo()
        pushes = sorted(((v * weights[j], j) for j, v in zip(row.col, row.data)
                         if v * weights[j] > 0), reverse=True)
        why: dict[str, float] = {}  # " 坏了" and "坏了 " read alike: add them up
        for push, j in pushes:
            name = _readable(self.names[j])
            why[name] = why.get(name, 0.0) + push
        return [f"{name} (+{push:.2f})" for name, push in
                sorted(why.items(), key=lambda item: -item[1])[:top]]


def _readable(name: str) -> str:
    kind, _, value = name.partition("__")
    return f"word {value!r}" if kind == "word" else f"characters {value.strip()!r}"
