"""The learned speaker model: a Pipeline on the text and the rules' output, and how it is used."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from stance.speakers.rules import CONTEXT, EXPLICIT
from stance.training.models import CompactTfidfVectorizer

# The model's input columns: the sentence and what the rules found in and around it.
CATEGORICAL = ["rule_speaker", "rule_kind", "first_mention", "prev_speaker"]
FEATURES = ["text", *CATEGORICAL]
# How the predicted speaker is chosen (config speakers.method).
METHODS = ("rules", "learned", "hybrid")
# hybrid: the rules decide where they found a source in the sentence or its context; the
# learned model decides the sentences the rules call narration (most of its errors there are
# actions and plans that count as their actor's position).
RULES_DECIDE = frozenset((*EXPLICIT, *CONTEXT))


def fit_model(params: Mapping[str, Any], seed: int, table: pd.DataFrame, speakers: Any) -> Any:
    """The speaker model fit on ``table`` (rule columns added); with fewer than two speakers, the
    one speaker (None without any): ``decide`` predicts it everywhere."""
    labels = np.asarray(list(speakers), dtype=object)
    if len(set(labels.tolist())) < 2:
        return str(labels[0]) if len(labels) else None
    low, high = params["word_ngram_range"]
    words = CompactTfidfVectorizer(ngram_range=(int(low), int(high)), sublinear_tf=True)
    features = ColumnTransformer(
        [("word", words, "text"), ("rules", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL)],
        transformer_weights={"word": 1.0, "rules": float(params["rule_weight"])},
    )
    classifier = LogisticRegression(
        C=float(params["C"]),
        class_weight=params["class_weight"],
        max_iter=int(params["max_iter"]),
        random_state=seed,
    )
    model = Pipeline([("features", features), ("classifier", classifier)])
    model.fit(table[FEATURES].astype(str).reset_index(drop=True), labels)
    return model


def decide(table: pd.DataFrame, model: Any, method: str) -> pd.DataFrame:
    """predicted_speaker, evidence and source (rules / model) of every row of ``table``."""
    rules = table["rule_speaker"].astype(str).to_numpy()
    evidence = table["rule_evidence"].astype(str).to_numpy().copy()
    source = np.full(len(table), "rules", dtype=object)
    predicted = rules.astype(object)
    if method != "rules" and len(table):
        x = table[FEATURES].astype(str).reset_index(drop=True)
        if isinstance(model, str) or model is None:
            learned = np.full(len(table), model or "author", dtype=object)
            confidence = np.ones(len(table))
        else:
            learned = np.asarray(model.predict(x), dtype=object)
            confidence = model.predict_proba(x).max(axis=1)
        use = np.ones(len(table), dtype=bool)
        if method == "hybrid":
            use = ~table["rule_kind"].isin(RULES_DECIDE).to_numpy()
        predicted[use], source[use] = learned[use], "model"
        for i in np.flatnonzero(use):
            evidence[i] = (
                f"speaker model: {learned[i]} (p={confidence[i]:.2f}); rules: {rules[i]} "
                f"({evidence[i]})"
            )
    return pd.DataFrame(
        {"predicted_speaker": predicted, "evidence": evidence, "source": source},
        index=table.index,
    )
