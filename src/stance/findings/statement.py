"""What the findings can carry: the model, its scores, labeled vs predicted, wide intervals."""

from __future__ import annotations

import html
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from stance.findings.resolve import LABEL_SOURCE
from stance.io import atomic_open

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
        "Predicted stances are corrected with adjusted classify-and-count: the model's error "
        "rates come from these out-of-fold predictions (docs/findings.md).",
    ]
    if "speaker" in m.features:
        items.append(
            "The model reads the speaker: it was scored with hand-labeled speakers, and here it "
            "reads the predicted ones (results/speakers/stance_with_predicted_speakers.tsv "
            "gives its scores with predicted speakers)."
        )
    return [("ul", items)]


def _count_blocks(result: FindingsResult) -> list[Block]:
    table = result.sentences
    n = len(table)
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
    return [
        ("ul", [
            f"{n} sentences in {table['article_id'].nunique()} articles: stance from a hand "
            f"label for **{labeled}** (counted as labeled, never corrected), predicted by the "
            f"model for **{n - labeled}**.",
            f"Speaker from a hand label for {speakers_labeled} sentences; the speaker stage "
            f"(method {method}) for {n - speakers_labeled}{speaker_score}. Speaker errors move "
            "sentences between speakers and are not corrected.",
        ]),
    ]  # fmt: skip


def _groups_blocks(result: FindingsResult) -> list[Block]:
    table = result.sentences
    n_articles = table["article_id"].nunique()
    outlets = table.loc[table["outlet"] != "", "article_id"].nunique()
    dated = table.loc[table["month"].notna(), "article_id"].nunique()
    items = []
    for what, count, path in (("an outlet", outlets, "stance_by_outlet.tsv"),
                              ("a date", dated, "stance_by_month.tsv")):  # fmt: skip
        if count == 0:
            items.append(f"No article has {what}: {path} has its header and no rows.")
        else:
            items.append(
                f"{count} of {n_articles} articles {'has' if count == 1 else 'have'} {what}; "
                f"{path} counts only {'its' if count == 1 else 'their'} sentences."
            )
    return [("ul", items)]


def flagged_rows(result: FindingsResult) -> list[list[str]]:
    """One row per (table, group) with a share whose interval reaches further than the
    threshold from it: table, group, stances, and their shares with intervals."""
    rows = []
    for name, table in result.tables.items():
        for _, r in table.iterrows():
            if not r["wide"]:
                continue
            shares = "; ".join(
                f"{c} {r[c]:.2f} [{r[f'{c}_low']:.2f}, {r[f'{c}_high']:.2f}]"
                for c in str(r["wide"]).split(",")
            )
            rows.append([name, str(r[name]), str(r["wide"]), shares])
    return rows


def single_article_groups(result: FindingsResult) -> list[str]:
    """``group (table)`` of every group whose sentences all come from one article."""
    return [
        f"{r[name]} ({name})"
        for name, table in result.tables.items()
        for _, r in table.iterrows()
        if int(r["articles"]) == 1
    ]


def statement_blocks(result: FindingsResult) -> list[Block]:
    """The statement, as blocks to render."""
    half = result.settings["wide_half_width"]
    level = round(result.settings["ci_level"] * 100)
    flagged = flagged_rows(result)
    blocks: list[Block] = [
        ("p", "What these numbers can carry"),
        *_model_blocks(result),
        *_count_blocks(result),
        *_groups_blocks(result),
        ("p", f"Intervals: {level}% percentile bootstrap over articles "
              f"({result.settings['n_bootstrap']} replicates, seed {result.settings['seed']}), "
              "resampling the corpus articles and the labeled articles the error rates come "
              "from. A share of exactly 0 or 1 gets an interval of no width (no resample holds "
              "what the data lack): with n sentences the true share can still be about 3/n "
              "away from it."),
    ]  # fmt: skip
    single = single_article_groups(result)
    if single:
        blocks.append(
            ("p", "**Resting on one article** (the bootstrap cannot vary them: their intervals "
                  f"have no width and say nothing): {', '.join(single)}.")
        )  # fmt: skip
    if flagged:
        blocks += [
            ("p", f"**{len(flagged)} group(s) have a share whose interval is wider than ±{half}** "
                  "(half its width above it): too uncertain to report as a finding."),
            ("table", ["table", "group", "wide", "share [interval]"], flagged),
        ]  # fmt: skip
    else:
        blocks.append(("p", f"No share has an interval wider than ±{half}."))
    return blocks


def to_markdown(blocks: list[Block]) -> str:
    lines = [f"# {blocks[0][1]}", ""]
    for block in blocks[1:]:
        if block[0] == "p":
            lines += [block[1], ""]
        elif block[0] == "ul":
            lines += [f"- {item}" for item in block[1]] + [""]
        else:
            header, rows = block[1], block[2]
            lines.append("| " + " | ".join(header) + " |")
            lines.append("|" + " --- |" * len(header))
            lines += ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in rows]
            lines.append("")
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
    with atomic_open(md_path, encoding="utf-8") as fh:
        fh.write(to_markdown(blocks))
    with atomic_open(html_path, encoding="utf-8") as fh:
        fh.write(to_html(blocks))


def summary_lines(result: FindingsResult) -> list[str]:
    """A few lines for the job's log."""
    table: pd.DataFrame = result.sentences
    labeled = int((table["stance_source"] == LABEL_SOURCE).sum())
    return [
        f"findings: model {result.model.name} ({result.model.how}); {len(table)} sentences, "
        f"{labeled} with a hand-labeled stance, {len(table) - labeled} predicted",
        *(f"wide interval: {' / '.join(r[:3])}" for r in flagged_rows(result)),
    ]
