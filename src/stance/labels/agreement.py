"""Inter-annotator agreement on the hand labels: kappa or alpha per field, and the disagreements."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from sklearn.metrics import cohen_kappa_score

from stance.io import atomic_open, spreadsheet_frame, write_json
from stance.labels.files import LabelSet
from stance.labels.resolution import Resolution
from stance.labels.schema import SENTENCE_COLUMNS, TIE_RULE, LabelSchema

COHEN = "cohen_kappa"
ALPHA = "krippendorff_alpha_nominal"


@dataclass(frozen=True)
class FieldAgreement:
    """Agreement on one label field; ``value`` is None when undefined (every label the same)."""

    measure: str
    value: float | None
    observed_agreement: float
    expected_agreement: float
    sentences: int
    disagreements: int


def cohen_kappa(a: Sequence[str], b: Sequence[str], labels: Sequence[str]) -> FieldAgreement:
    """Cohen's kappa of two annotators' labels on the same sentences (sklearn), with p_o and p_e."""
    n = len(a)
    agreed = sum(x == y for x, y in zip(a, b, strict=True))
    ca, cb = Counter(a), Counter(b)
    p_e = sum(ca[v] * cb[v] for v in labels) / (n * n)
    # Undefined when p_e = 1 (every label the same), where sklearn would divide by zero.
    value = float(cohen_kappa_score(list(a), list(b), labels=list(labels))) if p_e < 1 else None
    return FieldAgreement(COHEN, value, agreed / n, p_e, n, n - agreed)


def nominal_alpha(units: Iterable[Sequence[Hashable]]) -> FieldAgreement:
    """Krippendorff's alpha for nominal data (Krippendorff 2011) of the values given per unit;
    units with fewer than two values are not pairable and are skipped."""
    diagonal = 0.0
    totals: Counter[Hashable] = Counter()
    sentences = disagreements = 0
    for unit in units:
        m = len(unit)
        if m < 2:
            continue
        sentences += 1
        counts = Counter(unit)
        disagreements += len(counts) > 1
        diagonal += sum(c * (c - 1) for c in counts.values()) / (m - 1)
        totals.update(counts)  # sum_k o_ck over a unit equals n_uc
    n = sum(totals.values())
    if n == 0:
        return FieldAgreement(ALPHA, None, 0.0, 0.0, 0, 0)
    d_o = (n - diagonal) / n
    d_e = (n * n - sum(c * c for c in totals.values())) / (n * (n - 1))
    value = None if d_e == 0 else 1 - d_o / d_e
    return FieldAgreement(ALPHA, value, 1 - d_o, 1 - d_e, sentences, disagreements)


@dataclass
class Agreement:
    """The agreement report (agreement.json) and the disagreement table (disagreements.csv)."""

    report: dict[str, Any]
    disagreements: pd.DataFrame


def compute_agreement(
    label_set: LabelSet, resolution: Resolution, sentences: pd.DataFrame, schema: LabelSchema
) -> Agreement:
    """Agreement per field where 2+ annotators labeled: Cohen's kappa for two, else alpha."""
    fields = schema.field_names
    labels = label_set.labels
    annotators = label_set.annotators
    per_sentence = labels.groupby("sentence_id", sort=False)["annotator"].nunique()
    multi_ids = set(per_sentence[per_sentence >= 2].index)
    multi = labels[labels["sentence_id"].isin(multi_ids)]
    involved = sorted(set(multi["annotator"]))

    report: dict[str, Any] = {
        "status": "ok",
        "annotators": annotators,
        "labels": len(labels),
        "sentences_labeled": int(labels["sentence_id"].nunique()),
        "doubly_labeled": len(multi_ids),
        "adjudicated": len(label_set.adjudication),
        "measure": None,
        "fields": {},
    }
    if not annotators:
        report["status"] = "no labels"
    elif len(annotators) == 1:
        report["status"] = "single annotator"
    elif not multi_ids:
        report["status"] = "no overlap"
        report["note"] = "no sentence has labels from two annotators; label some in common"
    elif len(involved) == 2:
        report["measure"] = COHEN
        wide = multi.pivot(index="sentence_id", columns="annotator", values=fields)
        for fname in fields:
            a, b = wide[fname][involved[0]].tolist(), wide[fname][involved[1]].tolist()
            report["fields"][fname] = asdict(cohen_kappa(a, b, schema.values(fname)))
    else:
        report["measure"] = ALPHA
        for fname in fields:
            units = multi.groupby("sentence_id", sort=False)[fname].apply(list).tolist()
            report["fields"][fname] = asdict(nominal_alpha(units))

    table = _disagreements(multi, resolution, sentences, fields, annotators)
    report["disagreements"] = len(table)
    report["tie_rule"] = TIE_RULE
    report["ties"] = [asdict(t) for t in resolution.ties]
    return Agreement(report, table)


def _disagreements(
    multi: pd.DataFrame,
    resolution: Resolution,
    sentences: pd.DataFrame,
    fields: list[str],
    annotators: list[str],
) -> pd.DataFrame:
    """One row per sentence whose annotators disagree on any field, in article order."""
    final = resolution.final.set_index("sentence_id")
    info = sentences.set_index("sentence_id")
    rows = []
    for sid, group in multi.groupby("sentence_id"):
        differing = [f for f in fields if group[f].nunique() > 1]
        if not differing:
            continue
        row: dict[str, Any] = {
            "sentence_id": sid,
            "article_id": info.at[sid, "article_id"],
            "position": int(info.at[sid, "position"]),
            "text": info.at[sid, "text"],
            "fields": ";".join(differing),
            "resolution": final.at[sid, "resolution"],
        }
        row.update({f"final_{f}": final.at[sid, f] for f in fields})
        given = group.set_index("annotator").reindex(annotators, fill_value="")
        row.update({f"{ann}:{f}": given.at[ann, f] for ann in annotators for f in fields})
        rows.append(row)
    columns = [*SENTENCE_COLUMNS, "fields", "resolution", *(f"final_{f}" for f in fields)]
    columns += [f"{ann}:{f}" for ann in annotators for f in fields]
    table = pd.DataFrame(rows, columns=columns)
    return table.sort_values(["article_id", "position"], kind="stable").reset_index(drop=True)


def write_agreement(agreement: Agreement, json_path: Path | str, csv_path: Path | str) -> None:
    """Write agreement.json and disagreements.csv atomically."""
    write_json(json_path, agreement.report)
    with atomic_open(csv_path, newline="", encoding="utf-8") as fh:
        # For people, not read back: texts a spreadsheet would run as a formula are quoted.
        spreadsheet_frame(agreement.disagreements).to_csv(fh, index=False, lineterminator="\n")


def summary_line(report: dict[str, Any]) -> str:
    """A one-line account of the agreement report for the terminal."""
    if report["status"] != "ok":
        return f"agreement: {report['status']}"
    name = "kappa" if report["measure"] == COHEN else "alpha"
    values = ", ".join(
        f"{f} {name}={'undefined' if v['value'] is None else format(v['value'], '.3f')}"
        for f, v in report["fields"].items()
    )
    return (
        f"agreement ({len(report['annotators'])} annotators, {report['doubly_labeled']} "
        f"sentences labeled by 2+): {values}; {report['disagreements']} disagreement(s), "
        f"{len(report['ties'])} tie(s) to adjudicate"
    )


def agreement_for_run(path: Path | str) -> tuple[dict[str, str], dict[str, float]]:
    """Tags and metrics that carry a label version's agreement (agreement.json) into a model run."""
    report = json.loads(Path(path).read_text(encoding="utf-8"))
    tags = {
        "agreement_status": str(report.get("status")),
        "agreement_measure": str(report.get("measure")),
        "annotators": ",".join(report.get("annotators", [])),
    }
    metrics = {
        "agreement_doubly_labeled": float(report.get("doubly_labeled", 0)),
        "agreement_disagreements": float(report.get("disagreements", 0)),
    }
    for name, result in (report.get("fields") or {}).items():
        if result.get("value") is not None:
            metrics[f"agreement_{name}"] = float(result["value"])
    return tags, metrics
