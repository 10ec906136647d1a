"""The findings stage on a small synthetic project folder (no Snakemake): the stance predicted
shard by shard, every sentence once, hand labels over predictions, the shares tables, the
wide-interval flag, the model choice."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import PHRASES, ROOT, SCHEMA, schema_values

from stance.errors import StanceError
from stance.findings.predict import (
    choose_model,
    findings_model_inputs,
    gather_stances,
    predict_shard,
    predict_stances,
)
from stance.findings.stage import FindingsInputs, FindingsOutputs, run_findings_stage
from stance.training.model_files import load_model, save_model
from stance.training.models import spec_from_entry

STANCES = schema_values("stance")  # favor, against, none
# Per article: the outlet, the date, and (speaker, stance index) of each sentence. Stance i is
# written with a phrase of PHRASES[i], so the model learns it; the speaker goes with position.
ARTICLES = {
    "a0": ("Kabul Times", "2019-02-01", [("taliban", 0), ("us_government", 1), ("author", 2)] * 3),
    "a1": ("Kabul Times", "2019-02-20", [("taliban", 0), ("us_government", 1), ("author", 2)] * 3),
    "a2": ("Daily Post", "2019-03-05", [("taliban", 0), ("us_government", 1), ("author", 2)] * 3),
    "a3": ("", "", [("taliban", 0), ("us_government", 2), ("author", 2)] * 3),
    # Russia speaks in two articles only, once for and once against: a wide interval.
    "a4": ("", "2019-03-09", [("russia", 0), ("russia", 0), ("author", 2)]),
    "a5": ("Daily Post", "", [("russia", 1), ("russia", 1), ("author", 2)]),
}
LABELED_ARTICLES = ("a0", "a1")
# A sentence of an unlabeled article labeled against what the model predicts, with a speaker
# the speaker stage did not find: both hand labels must win.
OVERRIDE = ("a2", 0, "nato", "against")
# The corpus in two shards, as the workflow splits it (rule predict_stance runs per shard).
SHARDS = (("a0", "a1", "a2"), ("a3", "a4", "a5"))
MODELS = ("speaker_lr", "word_lr")


def _sentences() -> pd.DataFrame:
    rows = []
    for article, (_, _, spoken) in ARTICLES.items():
        for position, (speaker, stance) in enumerate(spoken):
            phrase = PHRASES[stance][0]
            rows.append({
                "sentence_id": f"{article}:{position:012x}", "article_id": article,
                "position": position, "start": 0, "end": 1,
                "text": f"In {article} the speaker said that {phrase} ({position}).",
                "speaker": speaker, "stance": STANCES[stance],
            })  # fmt: skip
    return pd.DataFrame(rows)


def _dataset(labels: pd.DataFrame, path: Path) -> None:
    import datasets

    features = datasets.Features({
        "sentence_id": datasets.Value("string"), "article_id": datasets.Value("string"),
        "position": datasets.Value("int32"), "text": datasets.Value("string"),
        "speaker": datasets.ClassLabel(names=schema_values("speaker")),
        "stance": datasets.ClassLabel(names=STANCES),
        "n_annotators": datasets.Value("int32"),
    })  # fmt: skip
    columns = ["sentence_id", "article_id", "position", "text", "speaker", "stance"]
    data = {c: labels[c].tolist() for c in columns}
    data["n_annotators"] = [1] * len(labels)
    datasets.Dataset.from_dict(data, features=features).save_to_disk(str(path))


def _model_folder(
    folder: Path, kind: str, train: pd.DataFrame, f_avg: float, labeled: pd.DataFrame
) -> None:
    """A fitted model, its metrics.json and out-of-fold predictions with known errors for
    every labeled sentence."""
    folder.mkdir(parents=True)
    spec = spec_from_entry({"name": folder.name, "kind": kind})
    model = spec.build(0).fit(train[spec.features], train["stance"])
    save_model(model, folder / "model.skops")
    summary = {
        "model": folder.name, "kind": kind, "features": spec.features, "classes": STANCES,
        "cv": {"description": "leave one article out, 2 folds"},
        "data": {"n_sentences": len(train)},
        "metrics": {"f_avg": f_avg, "f_avg_ci_low": f_avg - 0.1, "f_avg_ci_high": f_avg + 0.1,
                    "macro_f1": 0.7, "macro_f1_ci_low": 0.6, "macro_f1_ci_high": 0.8},
        "settings": {"ci_level": 0.95},
    }  # fmt: skip
    (folder / "metrics.json").write_text(json.dumps(summary), encoding="utf-8")
    # Out of fold: every labeled sentence right but one favor taken for none per article.
    oof = labeled[["sentence_id", "article_id", "stance"]].copy()
    oof["predicted"] = oof["stance"]
    for article in LABELED_ARTICLES:
        first = oof.index[(oof["article_id"] == article) & (oof["stance"] == "favor")][0]
        oof.loc[first, "predicted"] = "none"
    oof.to_csv(folder / "oof_predictions.csv", index=False)


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("findings")
    results = root / "results"
    (results / "speakers").mkdir(parents=True)
    corpus = _sentences()
    corpus.drop(columns=["speaker", "stance"]).to_parquet(results / "sentences.parquet")
    meta = pd.DataFrame(
        [(a, f"Title {a}", outlet, date, "table" if date else "", "", 0, 0)
         for a, (outlet, date, _) in ARTICLES.items()],
        columns=["article_id", "title", "outlet", "date", "date_source", "url", "sentences",
                 "chrome_lines"],
    )  # fmt: skip
    meta.to_csv(results / "articles.tsv", sep="\t", index=False)
    # The speaker stage found every speaker but the overridden one (it says "other").
    predicted = corpus[["sentence_id"]].assign(
        predicted_speaker=corpus["speaker"], evidence="rule", source="rules"
    )
    override_id = f"{OVERRIDE[0]}:{OVERRIDE[1]:012x}"
    predicted.loc[predicted["sentence_id"] == override_id, "predicted_speaker"] = "other"
    predicted.to_parquet(results / "speakers/predicted.parquet")
    (results / "speakers/metrics.json").write_text(json.dumps({
        "method": "rules", "evaluation": "leave one article out, 2 folds",
        "scores": {"guarded_rules": {"accuracy": 0.8, "accuracy_ci_low": 0.7,
                                     "accuracy_ci_high": 0.9, "macro_f1": 0.6,
                                     "macro_f1_ci_low": 0.5, "macro_f1_ci_high": 0.7}},
    }), encoding="utf-8")  # fmt: skip
    labels = corpus[corpus["article_id"].isin(LABELED_ARTICLES)].copy()
    extra = corpus[corpus["sentence_id"] == override_id].assign(
        speaker=OVERRIDE[2], stance=OVERRIDE[3]
    )
    labels = pd.concat([labels, extra], ignore_index=True)
    _dataset(labels, results / "labeled_dataset")
    # Out of fold, the speaker stage finds every labeled speaker (the override: "other").
    labels[["sentence_id", "article_id"]].assign(
        predicted_speaker=labels["speaker"].where(labels["sentence_id"] != override_id, "other")
    ).to_csv(results / "speakers/oof_predictions.csv", index=False)
    # The two labeled articles are a simple random sample of 2 of the 6; the override is a
    # label chosen by hand.
    (root / "labels/samples").mkdir(parents=True)
    (root / "labels/samples/articles-seed1.json").write_text(json.dumps({
        "unit": "article", "method": "srswor", "seed": 1, "frame": list(ARTICLES),
        "sample": list(LABELED_ARTICLES), "created": "2026-01-01T00:00:00+00:00",
    }), encoding="utf-8")  # fmt: skip
    train = labels[labels["article_id"].isin(LABELED_ARTICLES)]
    _model_folder(results / "models/speaker_lr", "tfidf_word_speaker", train, 0.9, labels)
    _model_folder(results / "models/word_lr", "tfidf_word", train, 0.8, labels)
    pd.DataFrame({"model": ["speaker_lr", "word_lr"], "f_avg": [0.9, 0.8]}).to_csv(
        results / "comparison.tsv", sep="\t", index=False
    )
    for n, articles in enumerate(SHARDS):
        shard = results / f"split/shard-{n}.parquet"
        shard.parent.mkdir(exist_ok=True)
        corpus[corpus["article_id"].isin(articles)].drop(columns=["speaker", "stance"]).to_parquet(
            shard
        )
        for model in MODELS:
            predict_shard(shard, results / "speakers/predicted.parquet", results / "models",
                          model, None, stance_files(root, model)[n])  # fmt: skip
    return root


def stance_files(root: Path, model: str) -> list[str]:
    """The per-shard stance predictions of one model."""
    return [str(root / f"results/stance/{model}/shard-{n}.parquet") for n in range(len(SHARDS))]


def inputs(root: Path, comparison: bool = True, model: str = "speaker_lr") -> FindingsInputs:
    r = root / "results"
    return FindingsInputs(
        str(r / "sentences.parquet"), str(r / "articles.tsv"),
        str(r / "speakers/predicted.parquet"), str(r / "speakers/metrics.json"),
        str(r / "labeled_dataset"), str(SCHEMA), str(r / "models"), stance_files(root, model),
        speaker_oof=str(r / "speakers/oof_predictions.csv"), labels_dir=str(root / "labels"),
        comparison=str(r / "comparison.tsv") if comparison else None,
    )  # fmt: skip


def outputs(folder: Path) -> FindingsOutputs:
    folder.mkdir(parents=True, exist_ok=True)
    names = {"sentences": "sentences.parquet", "by_speaker": "stance_by_speaker.tsv",
             "by_outlet": "stance_by_outlet.tsv", "by_month": "stance_by_month.tsv",
             "by_speaker_month": "stance_by_speaker_month.tsv",
             "by_speaker_outlet": "stance_by_speaker_outlet.tsv",
             "change": "stance_change.tsv", "design": "labeling_design.tsv",
             "speaker_figure": "stance_by_speaker.png", "time_figure": "stance_over_time.png",
             "statement_md": "statement.md", "statement_html": "statement.html"}  # fmt: skip
    return FindingsOutputs(**{k: str(folder / v) for k, v in names.items()})


def config(**findings) -> dict:
    """The settings the stage reads; the rest of the defaults come from the config schema."""
    from stance.config import load_config

    base = load_config(ROOT / "config" / "config.yaml")
    models = [{"name": "speaker_lr", "kind": "tfidf_word_speaker"},
              {"name": "word_lr", "kind": "tfidf_word"}]  # fmt: skip
    defaults = {"model": None, "ci_level": 0.95, "wide_half_width": 0.2, "split_date": None,
                "figure_groups": 20}  # fmt: skip
    return {**base, "models": models, "seed": 3, "findings": {**defaults, **findings}}


@pytest.fixture(scope="module")
def stage(project: Path):
    out = outputs(project / "out")
    result = run_findings_stage(inputs(project), out, config())
    return result, out


def test_every_sentence_once_with_hand_labels_over_predictions(project: Path, stage):
    result, out = stage
    corpus = pd.read_parquet(project / "results/sentences.parquet")
    table = pd.read_parquet(out.sentences)
    assert table["sentence_id"].tolist() == corpus["sentence_id"].tolist()  # once, in order
    truth = _sentences().set_index("sentence_id")
    labeled = table["article_id"].isin(LABELED_ARTICLES)
    override_id = f"{OVERRIDE[0]}:{OVERRIDE[1]:012x}"
    hand = labeled | (table["sentence_id"] == override_id)
    assert (table.loc[hand, "stance_source"] == "label").all()
    assert (table.loc[~hand, "stance_source"] == "model").all()
    assert (table.loc[~hand, "stance"] == table.loc[~hand, "predicted"]).all()
    row = table.set_index("sentence_id").loc[override_id]
    # The model reads favor here; the hand label (against) is what counts, and its speaker.
    assert row["predicted"] == "favor" and row["stance"] == "against"
    assert (row["speaker"], row["speaker_source"], row["predicted_speaker"]) == (
        "nato", "label", "other",
    )  # fmt: skip
    assert (table.loc[~hand, "speaker_source"] == "rules").all()
    assert (table.loc[labeled, "stance"] == truth.loc[table.loc[labeled, "sentence_id"],
                                                      "stance"].to_numpy()).all()  # fmt: skip
    # The speaker-reading model got the predicted speaker of every sentence.
    model = load_model(project / "results/models/speaker_lr/model.skops")
    x = table[["text", "predicted_speaker"]].rename(columns={"predicted_speaker": "speaker"})
    assert table["predicted"].tolist() == list(model.predict(x))
    proba = table[[f"proba_{c}" for c in STANCES]].sum(axis=1)
    assert np.allclose(proba, 1.0, atol=1e-5)
    assert result.model.name == "speaker_lr" and "best f_avg" in result.model.how
    # Article metadata and month travel with each sentence.
    a2 = table[table["article_id"] == "a2"].iloc[0]
    assert (a2["title"], a2["outlet"], a2["date"], a2["month"]) == (
        "Title a2", "Daily Post", "2019-03-05", "2019-03",
    )  # fmt: skip
    assert table.loc[table["article_id"] == "a3", "month"].isna().all()


def test_by_speaker_table_sums_to_the_sentence_table(stage):
    _, out = stage
    table = pd.read_parquet(out.sentences)
    shares = pd.read_csv(out.by_speaker, sep="\t", keep_default_na=False)
    counts = table["speaker"].value_counts()
    assert dict(zip(shares["speaker"], shares["sentences"], strict=True)) == counts.to_dict()
    # Schema order of the speakers present.
    order = [s for s in schema_values("speaker") if s in counts]
    assert shares["speaker"].tolist() == order
    assert (shares["labeled"] + shares["predicted"] == shares["sentences"]).all()
    hand = table[table["stance_source"] == "label"]
    for c in STANCES:
        expected = hand[hand["stance"] == c]["speaker"].value_counts()
        got = shares.set_index("speaker")[f"labeled_{c}"]
        assert got.to_dict() == expected.reindex(got.index, fill_value=0).to_dict()
    for r in shares.itertuples():
        of = table[table["speaker"] == r.speaker]
        raw = [(of["stance"] == c).mean() for c in STANCES]
        assert np.allclose([getattr(r, f"raw_{c}") for c in STANCES], raw, atol=1e-4)
        corrected = [getattr(r, c) for c in STANCES]
        assert abs(sum(corrected) - 1) < 1e-3
        assert all(getattr(r, f"{c}_low") <= getattr(r, f"{c}_high") for c in STANCES)
    # nato rests on one hand-labeled sentence: counted as labeled, never corrected.
    nato = shares.set_index("speaker").loc["nato"]
    assert (nato["labeled"], nato["predicted"], nato["against"]) == (1, 0, 1.0)


def test_wide_intervals_are_flagged_in_the_table_and_the_statement(stage, project: Path):
    _, out = stage
    shares = pd.read_csv(out.by_speaker, sep="\t", keep_default_na=False).set_index("speaker")
    for speaker, r in shares.iterrows():
        wide = {c for c in STANCES if (r[f"{c}_high"] - r[f"{c}_low"]) / 2 > 0.2}
        assert set(filter(None, r["wide"].split(","))) == wide, speaker
    # The sample (a0, a1) holds no russia: its interval claims nothing.
    assert shares.loc["russia", "estimate"] == "too few sampled units"
    assert shares.loc["russia", "wide"] == "favor,against,none"
    assert shares.loc["taliban", "estimate"] == "sample"
    # Two sampled articles (1 degree of freedom) carry wide intervals, and a plan to narrow them.
    assert shares.loc["taliban", "more_units"] > 0
    statement = Path(out.statement_md).read_text(encoding="utf-8")
    assert "| speaker | russia |" in statement
    assert "Sample **articles-seed1**: a simple random sample of articles, 2 of 6" in statement
    assert "1 other hand labels" in statement  # the override: chosen, not drawn
    assert "--sample " in statement and "--seed 1 --unit article" in statement
    assert "**speaker_lr**" in statement and "0.900 (95% CI 0.800–1.000)" in statement
    n = len(pd.read_parquet(out.sentences))
    assert f"predicted by the model for **{n - 19}**" in statement  # 18 + 1 labeled
    html = Path(out.statement_html).read_text(encoding="utf-8")
    assert "<b>speaker_lr</b>" in html and "<td>russia</td>" in html
    # The threshold comes from the configuration: a looser one flags nothing.
    loose = run_findings_stage(inputs(project), outputs(project / "loose"),
                               config(wide_half_width=0.99))  # fmt: skip
    assert (loose.tables["speaker"]["wide"] == "").all()
    text = (project / "loose/statement.md").read_text(encoding="utf-8")
    assert "No share has an interval wider than ±0.99." in text


def test_outlet_and_month_tables_count_only_articles_that_have_them(stage):
    _, out = stage
    table = pd.read_parquet(out.sentences)
    outlets = pd.read_csv(out.by_outlet, sep="\t", keep_default_na=False)
    assert dict(zip(outlets["outlet"], outlets["sentences"], strict=True)) == (
        table[table["outlet"] != ""]["outlet"].value_counts().to_dict()
    )
    months = pd.read_csv(out.by_month, sep="\t", keep_default_na=False)
    assert sorted(months["month"]) == ["2019-02", "2019-03"]
    assert months.set_index("month").loc["2019-02", "articles"] == 2
    for path in (out.speaker_figure, out.time_figure):
        assert Path(path).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_without_metadata_the_tables_have_a_header_and_the_statement_says_so(
    project: Path, tmp_path: Path
):
    bare = tmp_path / "articles.tsv"
    pd.DataFrame({"article_id": list(ARTICLES), "sentences": 0}).to_csv(bare, sep="\t",
                                                                         index=False)  # fmt: skip
    i = inputs(project)
    i = FindingsInputs(**{**i.__dict__, "articles": str(bare)})
    out = outputs(tmp_path / "out")
    run_findings_stage(i, out, config())
    header = Path(out.by_outlet).read_text(encoding="utf-8").splitlines()
    assert len(header) == 1 and header[0].startswith("outlet\tsentences\tarticles")
    assert len(Path(out.by_month).read_text(encoding="utf-8").splitlines()) == 1
    statement = Path(out.statement_md).read_text(encoding="utf-8")
    assert "No article has an outlet" in statement and "No article has a date" in statement
    assert Path(out.time_figure).read_bytes()[:4] == b"\x89PNG"


def test_the_configured_model_is_used_and_an_unknown_one_is_refused(project: Path, tmp_path):
    result = run_findings_stage(inputs(project, comparison=False, model="word_lr"),
                                outputs(tmp_path), config(model="word_lr"))  # fmt: skip
    assert result.model.name == "word_lr" and "config" in result.model.how
    assert "reads the speaker" not in (tmp_path / "statement.md").read_text(encoding="utf-8")
    entries = {"models": [{"name": "word_lr"}, {"name": "speaker_lr"}]}
    files = findings_model_inputs({**entries, "findings": {"model": "word_lr"}})
    assert files == {
        "model_files": [
            f"results/models/word_lr/{f}"
            for f in ("model.skops", "metrics.json", "oof_predictions.csv")
        ]
    }
    best = findings_model_inputs({**entries, "findings": {"model": None}})
    assert best["comparison"] == "results/metrics/comparison.tsv"
    assert len(best["model_files"]) == 6
    with pytest.raises(StanceError, match=r"findings\.model is 'svm'.*word_lr, speaker_lr"):
        findings_model_inputs({**entries, "findings": {"model": "svm"}})


def test_hand_labels_with_a_stance_the_model_does_not_know_are_refused(project: Path, tmp_path):
    import shutil

    models = tmp_path / "models"
    shutil.copytree(project / "results/models/word_lr", models / "word_lr")
    summary = json.loads((models / "word_lr/metrics.json").read_text(encoding="utf-8"))
    summary["classes"] = STANCES[:2]  # the hand labels also say "none"
    (models / "word_lr/metrics.json").write_text(json.dumps(summary), encoding="utf-8")
    i = inputs(project, comparison=False, model="word_lr")
    i = FindingsInputs(**{**i.__dict__, "models_dir": str(models)})
    with pytest.raises(StanceError, match=r"stance value\(s\) none are not among the classes"):
        run_findings_stage(i, outputs(tmp_path / "out"), config(model="word_lr"))


def test_shares_before_and_after_a_split_date_and_their_difference(project: Path, tmp_path):
    out = outputs(tmp_path / "split")
    result = run_findings_stage(inputs(project), out, config(split_date="2019-03-01"))
    change = pd.read_csv(out.change, sep="\t", keep_default_na=False)
    # These speak in dated articles on both sides (a0, a1 | a2, a4).
    assert sorted(set(change["speaker"])) == ["author", "taliban", "us_government"]
    assert set(change["stance"]) == set(STANCES)
    for r in change.itertuples():
        assert r.difference == pytest.approx(r.after - r.before, abs=1e-3)
        assert r.low <= r.difference <= r.high
    assert not result.change.empty
    # The pairs tables: speaker x month.
    pairs = pd.read_csv(out.by_speaker_month, sep="\t", keep_default_na=False)
    assert {("taliban", "2019-02"), ("taliban", "2019-03")} <= set(
        zip(pairs["speaker"], pairs["month"], strict=True)
    )
    with pytest.raises(StanceError, match="split_date is 'soon'"):
        run_findings_stage(inputs(project), out, config(split_date="soon"))
    # Without a split date: the header only.
    plain = pd.read_csv(outputs(project / "out").change, sep="\t")
    assert plain.empty and list(plain.columns)[:3] == ["speaker", "stance", "before"]


def test_shard_predictions_are_those_of_the_whole_corpus_at_once(project: Path):
    from stance.training.artifacts import load_final_model

    r = project / "results"
    chosen = choose_model(r / "models", "speaker_lr", None)
    corpus = pd.read_parquet(r / "sentences.parquet")
    speakers = pd.read_parquet(r / "speakers/predicted.parquet").set_index("sentence_id")
    whole = corpus.assign(speaker=corpus["sentence_id"].map(speakers["predicted_speaker"]))
    expected = predict_stances(load_final_model(chosen.folder), whole, chosen)
    files = stance_files(project, "speaker_lr")
    parts = [pd.read_parquet(f) for f in files]
    assert [len(p) for p in parts] == [27, 15]
    assert list(parts[0].columns) == ["sentence_id", "predicted", *(f"proba_{c}" for c in STANCES)]
    pd.testing.assert_frame_equal(
        gather_stances(corpus, files, chosen), expected.reset_index(drop=True)
    )
    with pytest.raises(StanceError, match=r"lack 15 sentence\(s\) of the corpus"):
        gather_stances(corpus, files[:1], chosen)
    two = chosen.summary | {"classes": STANCES[:2]}
    other = type(chosen)(chosen.name, chosen.how, chosen.folder, two, chosen.oof)
    with pytest.raises(StanceError, match="not the predictions of model 'speaker_lr'"):
        gather_stances(corpus, files, other)
