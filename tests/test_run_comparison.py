"""Runs read at a glance, on a real SQLite store in a temporary folder (no mocks): the parent
run's comparison table and description, `stance runs --compare` and `--by-labels` across two
label versions."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import pytest
from helpers import make_dataset

from stance.cli.main import main
from stance.errors import StanceError
from stance.tracking.queries import compare_runs, scores_by_label_version
from stance.tracking.runs import log_evaluation_run
from stance.tracking.store import tracking_client
from stance.tracking.summary import COMPARISON_ARTIFACT, log_group_summary, summary_group
from stance.training.artifacts import ARTIFACT_FILES, write_evaluation
from stance.training.comparison import comparison_table, describe_comparison
from stance.training.data import from_dataset
from stance.training.evaluate import evaluate
from stance.training.models import spec_from_entry
from stance.training.settings import EvalSettings

MODELS = [
    {"name": "majority", "kind": "majority"},
    {"name": "word_lr", "kind": "tfidf_word", "params": {"C": 1.0}},
]


@pytest.fixture(scope="module")
def store(tmp_path_factory, config):
    """Two label versions (40, then 48 labeled sentences), each logged as one group of two
    models, then word_lr once more on the second version with another C."""
    tmp = tmp_path_factory.mktemp("comparing")
    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    experiment = config["mlflow"]["experiment"]
    settings = replace(EvalSettings.from_config(config), n_bootstrap=200)
    logged: dict[str, dict] = {}
    for version, (n_articles, per_article) in {"v1": (4, 10), "v2": (4, 12)}.items():
        data = from_dataset(make_dataset(n_articles, per_article), str(tmp / version / "data"))
        summaries, run_ids = [], {}
        entries = MODELS + ([{**MODELS[1], "params": {"C": 0.1}}] if version == "v2" else [])
        for i, entry in enumerate(entries):
            ev = evaluate(data, spec_from_entry(entry), settings)
            folder = tmp / version / f"{entry['name']}-{i}"
            write_evaluation(ev, folder)
            group = f"{version}-later" if i == 2 else version
            info = log_evaluation_run(
                uri, experiment, ev.summary, ev.final_model,
                [folder / f for f in ARTIFACT_FILES], data,
                config=config, root=tmp, group=group,
            )  # fmt: skip
            logged[f"{version}/{entry['name']}" + ("/C0.1" if i == 2 else "")] = {
                **info, "summary": ev.summary, "data": data,
            }  # fmt: skip
            if i < 2:
                summaries.append(ev.summary)
                run_ids[entry["name"]] = info["run_id"]
        logged[version] = {"table": comparison_table(summaries, run_ids), "summaries": summaries}
    return {"uri": uri, "experiment": experiment, "runs": logged, "tmp": tmp}


def test_parent_run_holds_the_comparison_table_and_description(store):
    uri, experiment, v1 = store["uri"], store["experiment"], store["runs"]["v1"]
    description = describe_comparison(v1["table"], v1["summaries"])
    parent = log_group_summary(uri, experiment, "v1", v1["table"], description)
    assert parent == store["runs"]["v1/majority"]["parent_run_id"]
    client = tracking_client(uri)
    run = client.get_run(parent)
    assert run.data.tags["mlflow.note.content"] == description

    def load() -> pd.DataFrame:
        import mlflow

        mlflow.set_tracking_uri(uri)  # load_table searches runs through the global URI
        return client.load_table(run.info.experiment_id, COMPARISON_ARTIFACT, run_ids=[parent])

    table = load()
    assert list(table["model"]) == list(v1["table"]["model"])
    assert list(table.columns[:4]) == ["model", "f_avg", "f_avg_ci_low", "f_avg_ci_high"]
    assert table["f_avg"].tolist() == pytest.approx(v1["table"]["f_avg"].tolist(), abs=5e-5)
    assert set(table["run_id"]) == {store["runs"][f"v1/{m['name']}"]["run_id"] for m in MODELS}
    # Logged again (a re-run of the compare step): replaced, not added to.
    log_group_summary(uri, experiment, "v1", v1["table"].head(1), "again")
    assert len(load()) == 1
    assert client.get_run(parent).data.tags["mlflow.note.content"] == "again"
    # The model runs keep their own descriptions.
    child = client.get_run(store["runs"]["v1/word_lr"]["run_id"])
    assert child.data.tags["mlflow.note.content"] != "again"


def test_description_names_models_label_version_and_best_model(store):
    v2 = store["runs"]["v2"]
    text = describe_comparison(v2["table"], v2["summaries"])
    best = v2["table"].iloc[0]
    digest = v2["summaries"][0]["data"]["sha256"][:12]
    assert "**2 models**" in text and "**48 labeled sentences** from 4 articles" in text
    assert f"`{digest}`" in text
    interval = f"{best['f_avg']:.3f} [{best['f_avg_ci_low']:.3f}, {best['f_avg_ci_high']:.3f}]"
    assert f"Best f_avg: **{best['model']}**, f_avg {interval}" in text
    assert "Majority baseline (majority)" in text
    assert all(f"| {m['name']} |" in text for m in MODELS)


def test_summary_goes_to_the_current_group_else_the_one_holding_most_runs():
    markers = [{"group": "a"}, {"group": "b"}, {"group": "b"}]
    assert summary_group(markers, "a") == "a"
    assert summary_group(markers, "c") == "b"  # every run reused from earlier workflow runs
    assert summary_group(markers, None) == "b"


def test_compare_two_label_versions_of_one_model(store):
    runs = store["runs"]
    first, second = runs["v1/word_lr"], runs["v2/word_lr"]
    found = compare_runs(store["uri"], store["experiment"], [first["run_id"], second["run_id"]])
    a, b = first["run_id"][:8], second["run_id"][:8]
    params = found["params"].set_index("param")
    assert params.loc["n_sentences", a] == "40" and params.loc["n_sentences", b] == "48"
    assert params.loc["data_source", a] != params.loc["data_source", b]
    assert "tag:dataset_digest" in params.index and "tag:labels_sha256" in params.index
    assert "hp.C" not in params.index and "model" not in params.index  # the same in both
    assert list(found["metrics"]["metric"][:4]) == ["f_avg", "macro_f1", "accuracy", "cohen_kappa"]
    assert params.loc["tag:labels_sha256", a] == first["summary"]["data"]["sha256"][:12]
    metrics = found["metrics"].set_index("metric")
    assert not any(n.endswith(("_ci_low", "_ci_high")) for n in metrics.index)
    m1, m2 = first["summary"]["metrics"], second["summary"]["metrics"]
    assert metrics.loc["f_avg", a] == (
        f"{m1['f_avg']:.3f} [{m1['f_avg_ci_low']:.3f}, {m1['f_avg_ci_high']:.3f}]"
    )
    assert metrics.loc["macro_f1", f"{b} - {a}"] == f"{m2['macro_f1'] - m1['macro_f1']:+.3f}"
    assert list(found["runs"]["data"]) == [
        tracking_client(store["uri"]).get_run(r["run_id"]).data.tags["dataset_digest"]
        for r in (first, second)
    ]


def test_compare_two_settings_shows_only_the_changed_param(store):
    runs = store["runs"]
    one, other = runs["v2/word_lr"]["run_id"], runs["v2/word_lr/C0.1"]["run_id"]
    found = compare_runs(store["uri"], store["experiment"], [one, other])
    assert list(found["params"]["param"]) == ["hp.C"]
    assert found["params"].iloc[0].tolist() == ["hp.C", "1.0", "0.1"]


def test_compare_refuses_fewer_than_two_runs_a_repeat_or_a_parent(store):
    uri, experiment, runs = store["uri"], store["experiment"], store["runs"]
    run_id = runs["v1/majority"]["run_id"]
    with pytest.raises(StanceError, match="at least two"):
        compare_runs(uri, experiment, [run_id])
    with pytest.raises(StanceError, match="given twice"):
        compare_runs(uri, experiment, [run_id, run_id])
    with pytest.raises(StanceError, match="holds no model"):
        compare_runs(uri, experiment, [run_id, runs["v1/majority"]["parent_run_id"]])


def test_by_labels_lists_label_versions_oldest_first(store):
    runs = store["runs"]
    table = scores_by_label_version(store["uri"], store["experiment"], "word_lr")
    assert list(table["labels"]) == ["40", "48"] and list(table["articles"]) == ["4", "4"]
    assert list(table["labels_sha256"]) == [
        runs[v]["summaries"][0]["data"]["sha256"][:12] for v in ("v1", "v2")
    ]
    assert table["data"].str.len().gt(0).all() and table["data"].nunique() == 2
    # The second version has two runs of word_lr: its row shows the newest (C=0.1).
    assert list(table["runs"]) == [1, 2]
    assert table["run_id"].iloc[1] == runs["v2/word_lr/C0.1"]["run_id"]
    m = runs["v2/word_lr/C0.1"]["summary"]["metrics"]
    assert table["macro_f1 [95% CI]"].iloc[1] == (
        f"{m['macro_f1']:.3f} [{m['macro_f1_ci_low']:.3f}, {m['macro_f1_ci_high']:.3f}]"
    )
    with pytest.raises(StanceError, match="no finished runs of model 'nope'"):
        scores_by_label_version(store["uri"], store["experiment"], "nope")


def test_runs_command_compare_and_by_labels(store, monkeypatch, capsys, project_root):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store["uri"])
    config = str(project_root / "config" / "config.yaml")
    runs = store["runs"]
    a, b = runs["v1/word_lr"]["run_id"], runs["v2/word_lr"]["run_id"]
    assert main(["runs", "--config", config, "--compare", a, b]) == 0
    out = capsys.readouterr().out
    assert "params that differ:" in out and "n_sentences" in out
    assert f"difference from run {a[:8]}" in out and f"{b[:8]} - {a[:8]}" in out
    assert main(["runs", "--config", config, "--by-labels", "word_lr", "--tsv"]) == 0
    table = pd.read_csv(pd.io.common.StringIO(capsys.readouterr().out), sep="\t", dtype=str)
    assert list(table["labels"]) == ["40", "48"]
    assert main(["runs", "--config", config, "--compare", a]) == 2
    assert "at least two" in capsys.readouterr().err
    assert main(["runs", "--config", config, "--compare", a, b, "--by-labels", "x"]) == 2
