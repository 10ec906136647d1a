"""What the findings can carry: the model, its scores, labeled vs predicted, wide intervals."""

from __future__ import annotations

import html
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from stance.findings.shares import LABEL_SOURCE
from stance.io import atomic_open, markdown_table

if TYPE_CHECKING:
    from stance.findings.stage import FindingsResult

# A block of the statement: ("p", text), ("ul", [items]) or ("table", header, rows).
Block = tuple[Any, ...]


def _ci(figures: dict[str, Any], name: str, level: int) -> str:
    return (
        f"{figures[name]:.3f} ({level}% CI {figures[f'{name}_ci_low']:.3f}–"
        f"{figures[f'{name}_ci_high']:.3f})"
    )


def _model_blocks(result: FindingsResult) -> list[Block]:
    m = result.model
    s = m.summary
    level = round(s["settings"]["ci_level"] * 100)
    reads = ", ".join(m.features)
    items = [
        f"Stance model: **{m.name}** (kind {s['kind']}; reads {reads}); chosen as: {m.how}.",
        f"Its out-of-fold scores ({s['cv']['description']}, {s['data']['n_sentences']} labeled "
        f"sentences): f_avg {_ci(s['metrics'], 'f_avg', level)}, macro-F1 "
        f"{_ci(s['metrics'], 'macro_f1', level)}.",
    ]
    if "speaker" in m.features:
        items.append(
            "The model reads the speaker: it was scored with hand-labeled speakers, and here it "
            "reads the predicted ones (results/speakers/stance_with_predicted_speakers.tsv "
            "gives its scores with predicted speakers)."
        )
    return [("ul", items)]


def _count_blocks(result: FindingsResult) -> list[Block]:
    """How many sentences have a hand-labeled stance and speaker; which have an outlet, a date."""
    table = result.sentences
    n = len(table)
    n_articles = table["article_id"].nunique()
    labeled = int((table["stance_source"] == LABEL_SOURCE).sum())
    speakers_labeled = int((table["speaker_source"] == LABEL_SOURCE).sum())
    sp = result.speaker_summary
    method = sp.get("method", "rules")
    scores = sp.get("scores", {}).get(f"guarded_{method}", {})
    level = round(result.settings["ci_level"] * 100)
    speaker_score = (
        f" (out-of-fold accuracy {_ci(scores, 'accuracy', level)}, macro-F1 "
        f"{_ci(scores, 'macro_f1', level)}; {sp.get('evaluation', '')})"
        if "accuracy_ci_low" in scores
        else ""
    )
    groups = []
    for what, column, path in (("an outlet", "outlet", "stance_by_outlet.tsv"),
                               ("a date", "month", "stance_by_month.tsv")):  # fmt: skip
        count = table.loc[table[column].fillna("") != "", "article_id"].nunique()
        groups.append(
            f"{count} of {n_articles} articles {'has' if count == 1 else 'have'} {what}; "
            f"{path} counts only {'its' if count == 1 else 'their'} sentences."
            if count
            else f"No article has {what}: {path} has its header and no rows."
        )
    return [
        ("ul", [
            f"{n} sentences in {n_articles} articles: stance from a hand "
            f"label for **{labeled}** (counted as they are), predicted by the model for "
            f"**{n - labeled}**.",
            f"Speaker from a hand label for {speakers_labeled} sentences; the speaker stage "
            f"(method {method}) for {n - speakers_labeled}{speaker_score}.",
        ]),
        ("ul", groups),
    ]  # fmt: skip


def _design_blocks(result: FindingsResult) -> list[Block]:
    """The labeling design, the estimator, what carried it and what would break it."""
    chosen = int(result.design.iloc[-1]["complete"])
    table = result.sentences
    unknown = table["stance_source"] != LABEL_SOURCE
    outside = int((unknown & (table["design"] == "")).sum())
    in_sample = int(table["sampled"].sum())
    items = []
    for r in result.design.iloc[:-1].itertuples(index=False):  # the last: labels without one
        kind = "a census" if r.method == "census" else "a simple random sample"
        seed = f" (seed {int(r.seed)})" if pd.notna(r.seed) else ""
        items.append(
            f"Sample **{r.name}**: {kind} of {r.unit}s, {r.drawn} of {r.frame} drawn{seed}, "
            f"{r.complete} labeled in full"
            + (f", {r.incomplete} drawn but not labeled in full yet (left out)" if r.incomplete
               else "")
            + f"; its frame holds {r.frame_sentences} sentences."
        )  # fmt: skip
    items.append(
        f"{in_sample} hand-labeled sentences belong to a sample and carry the estimate of the "
        f"model's errors; {chosen} other hand labels (chosen, not drawn: uncertain-first, by "
        "hand, imported) count as known values of their own sentences only."
    )
    items += [f"Note: {w}" for w in result.design_warnings]
    blocks: list[Block] = [("p", "**Labeling design** (labels/samples/, results/findings/"
                                 "labeling_design.tsv)"), ("ul", items)]  # fmt: skip
    if unknown.sum() == 0:
        blocks.append(
            ("p", "Estimator: every sentence has a hand label, so the shares are exact for these "
                  "articles (no sampling error; intervals of no width). They describe these "
                  "articles, not articles in general.")
        )  # fmt: skip
        return blocks
    blocks.append(
        ("p", "Estimator: hand labels count as they are; every other sentence of a sample's "
              "frame counts by its predicted speaker and stance, rectified by the sampled "
              "units' out-of-fold errors (speaker and stance errors alike): the difference "
              "estimator of survey sampling, i.e. prediction-powered inference with PPI++ power "
              "tuning (`lambda`, one per sample and table: 0 trusts the sample alone, 1 the "
              "predictions as rectified). Intervals: t intervals of the design variance with "
              "the sampled units that hold the group, less one, as degrees of freedom "
              "variance (finite-population correction; whole articles as units when articles "
              "were sampled), never narrower than the same labeled sentences drawn one by one "
              "would give. A group held by fewer than two sampled units gets the interval 0-1. "
              "It assumes: the sample was drawn at random from the frame as recorded, and its "
              "units labeled in full and correctly (a drawn unit left unlabeled keeps the "
              "sample random only when units are labeled in the order drawn, as `stance label` "
              "shows them). The shares describe these articles, not articles in general.")
    )  # fmt: skip
    if outside:
        blocks.append(
            ("p", f"**{outside} predicted sentences lie outside every sample's frame** (articles "
                  "added after the sample was drawn, or no sample at all): they count by the "
                  "model's prediction, **uncorrected**, and the groups that hold them "
                  "(`estimate` = uncorrected) get no interval. Draw a sample of the queue: "
                  "`stance label --annotator NAME --sample N --seed S`.")
        )  # fmt: skip
    return blocks


def _plan_blocks(result: FindingsResult) -> list[Block]:
    """For each wide group: roughly how many more sampled units would narrow it, and how."""
    rows = []
    for name, table in result.tables.items():
        for _, r in table[table["more_units"] > 0].iterrows():
            rows.append([name, group_label(table, r), str(r["wide"]), str(int(r["more_units"]))])
    if not rows:
        return []
    # Only a sample not labeled in full yet has more_units: the first such (shares._more_units).
    design = result.design.iloc[:-1]
    first = design[design["complete"] < design["frame"]].iloc[0]
    most = max(int(r[3]) for r in rows)
    unit = "" if first["unit"] == "sentence" else " --unit article"
    # A sample recorded without a seed (declared by hand) cannot be extended: draw another.
    seed = int(first["seed"]) if pd.notna(first["seed"]) else "S"
    return [
        ("p", f"**Labeling plan**: about this many more {first['unit']}s drawn at random into "
              f"sample {first['name']} would bring each wide interval within "
              f"±{result.settings['wide_half_width']} (a rough figure from the current "
              f"variance). To draw them: `stance label --annotator NAME --sample "
              f"{int(first['drawn']) + most} --seed {seed}{unit}` (the same seed extends the "
              "same sample; a sample declared without a seed: draw a new one with any seed)."),
        ("table", ["table", "group", "wide", "more units"], rows),
    ]  # fmt: skip


def group_label(table: pd.DataFrame, row: pd.Series) -> str:
    """The group of a shares table's row: its value, or its values joined by ' / '."""
    return " / ".join(str(row[c]) for c in table.columns[: table.columns.get_loc("sentences")])


def flagged_rows(result: FindingsResult) -> list[list[str]]:
    """Per (table, group) with a wide interval: table, group, stances, their shares [intervals]."""
    rows = []
    for name, table in result.tables.items():
        for _, r in table[table["wide"] != ""].iterrows():
            shares = "; ".join(
                f"{c} {r[c]:.2f} [{r[f'{c}_low']:.2f}, {r[f'{c}_high']:.2f}]"
                for c in str(r["wide"]).split(",")
            )
            rows.append([name, group_label(table, r), str(r["wide"]), shares])
    return rows


def statement_blocks(result: FindingsResult) -> list[Block]:
    """The statement, as blocks to render."""
    half = result.settings["wide_half_width"]
    level = round(result.settings["ci_level"] * 100)
    flagged = flagged_rows(result)
    blocks: list[Block] = [
        ("p", "What these numbers can carry"),
        *_model_blocks(result),
        *_count_blocks(result),
        *_design_blocks(result),
        ("p", f"Intervals are {level}% intervals."),
    ]
    if flagged:
        blocks += [
            ("p", f"**{len(flagged)} group(s) have a share whose interval is wider than ±{half}** "
                  "(half its width above it): too uncertain to report as a finding."),
            ("table", ["table", "group", "wide", "share [interval]"], flagged),
        ]  # fmt: skip
    else:
        blocks.append(("p", f"No share has an interval wider than ±{half}."))
    return blocks + _plan_blocks(result)


def to_markdown(blocks: list[Block]) -> str:
    lines = [f"# {blocks[0][1]}", ""]
    for block in blocks[1:]:
        if block[0] == "p":
            lines += [block[1], ""]
        elif block[0] == "ul":
            lines += [f"- {item}" for item in block[1]] + [""]
        else:
            lines += [markdown_table(block[1], block[2]), ""]
    return "\n".join(lines)


def _inline(text: str) -> str:
    """HTML of a text whose **bold** parts are marked as in Markdown."""
    parts = html.escape(text).split("**")
    return "".join(f"<b>{p}</b>" if i % 2 else p for i, p in enumerate(parts))


def to_html(blocks: list[Block]) -> str:
    body = [f"<h2>{html.escape(blocks[0][1])}</h2>"]
    for block in blocks[1:]:
        if block[0] == "p":
            body.append(f"<p>{_inline(block[1])}</p>")
        elif block[0] == "ul":
            body.append("<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in block[1]) + "</ul>")
        else:
            head = "".join(f"<th>{html.escape(h)}</th>" for h in block[1])
            rows = "".join(
                "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>"
                for r in block[2]
            )
            body.append(f"<table border='1' cellpadding='4'><tr>{head}</tr>{rows}</table>")
    return (
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>Findings</title></head>"
        "<body style='font-family: sans-serif; max-width: 60em'>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )


def write_statement(result: FindingsResult, md_path: Path | str, html_path: Path | str) -> None:
    """The statement as Markdown (to read or quote) and as HTML (shown in the report)."""
    blocks = statement_blocks(result)
    for path, render in ((md_path, to_markdown), (html_path, to_html)):
        with atomic_open(path, encoding="utf-8") as fh:
            fh.write(render(blocks))


def summary_lines(result: FindingsResult) -> list[str]:
    """A few lines for the job's log."""
    table: pd.DataFrame = result.sentences
    labeled = int((table["stance_source"] == LABEL_SOURCE).sum())
    return [
        f"findings: model {result.model.name} ({result.model.how}); {len(table)} sentences, "
        f"{labeled} with a hand-labeled stance, {len(table) - labeled} predicted",
        *(f"wide interval: {' / '.join(r[:3])}" for r in flagged_rows(result)),
    ]
