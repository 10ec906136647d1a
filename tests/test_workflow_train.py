"""End to end: the training stage of the real workflow on a temporary copy of the project.

Builds from clean with --cores 2 (the MLflow store created once, then one job trains and one
logs each model, and one compares them), then
checks that a second run does nothing and logs nothing, that changing one hyperparameter or one
label re-runs only what depends on it, that --config and --configfile reach the jobs, and that
job logs hold what the jobs print. Tests that change the project bring it up to date first, so
none depends on the order the tests run in.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
from pathlib import Path

import pandas as pd
import pytest
import yaml
from helpers import copy_project, run_snakemake, schema_values

pytestmark = pytest.mark.e2e
MODELS = ["majority", "word_lr", "word_speaker_lr"]
MLFLOW_RULES = {"tracking_store", "log_model", "compare_models", "log_speakers"}


def planned_jobs(project: Path) -> dict[str, int]:
    """Jobs a dry run would start, by rule."""
    proc = run_snakemake(project, "-n", "--quiet", "rules")
    counts: dict[str, int] = {}
    for line in (proc.stdout + proc.stderr).splitlines():
        m = re.match(r"^\s*(\w+)\s+(\d+)\s*$", line)
        if m and m.group(1) != "total":
            counts[m.group(1)] = int(m.group(2))
    return counts


def max_parallel(output: str, rules: set[str]) -> int:
    """The most jobs of these rules running at once, from snakemake's log."""
    running = peak = 0
    for line in output.splitlines():
        if (m := re.match(r"^(?:local)?rule (\w+):", line)) and m.group(1) in rules:
            running += 1
            peak = max(peak, running)
        if (m := re.match(r"^Finished jobid: \d+ \(Rule: (\w+)\)", line)) and m.group(1) in rules:
            running -= 1
    return peak


def model_runs(project: Path) -> list[tuple[str, str]]:
    """(model, workflow run) of every model run in the project's store."""
    with sqlite3.connect(project / "mlflow.db") as db:
        rows = db.execute(
            "select m.value, g.value from tags r"
            " join tags m on m.run_uuid = r.run_uuid and m.key = 'model'"
            " join tags g on g.run_uuid = r.run_uuid and g.key = 'stance.workflow_run'"
            " where r.key = 'stance.role' and r.value = 'model'"
        ).fetchall()
    return sorted(rows)


def write_synthetic_labels(project: Path) -> None:
    """One synthetic label per sentence (test fixture only): values cycle through the scheme."""
    for old in (project / "labels").glob("*.csv"):
        old.unlink()
    sentences = pd.read_parquet(project / "results/sentences.parquet")
    schema = project / "labels/schema.yaml"
    stances, speakers = schema_values("stance", schema), schema_values("speaker", schema)
    rows = [
        {
            "sentence_id": s.sentence_id,
            "text": s.text,
            "speaker": speakers[s.position % len(speakers)],
            "stance": stances[(s.position + i) % len(stances)],
            "annotator": "synthetic",
            "note": "",
        }
        for i, s in enumerate(sentences.itertuples())
    ]
    pd.DataFrame(rows).to_csv(project / "labels/synthetic.csv", index=False)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, str, list[tuple[str, str]]]:
    """The copy after a clean build, snakemake's output and the model runs it logged."""
    project = copy_project(tmp_path_factory.mktemp("train") / "project")
    config = yaml.safe_load((project / "config/config.yaml").read_text())
    config["models"] = [m for m in config["models"] if m["name"] in MODELS]
    config["evaluation"]["n_bootstrap"] = 200
    (project / "config/config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    run_snakemake(project, "results/sentences.parquet", "--cores", "2")
    write_synthetic_labels(project)
    proc = run_snakemake(project, "--cores", "2")
    return project, proc.stdout + proc.stderr, model_runs(project)


def test_clean_build_logs_one_run_per_model_serially(built):
    project, output, runs = built
    assert 'mlflow_writes=Resource("mlflow_writes", 1)' in output  # read from the profile
    assert max_parallel(output, MLFLOW_RULES) == 1
    assert sorted(m for m, _ in runs) == sorted(MODELS)
    assert len({group for _, group in runs}) == 1  # one workflow run groups them
    up_to_date(project)  # other tests may have changed the copy since
    table = pd.read_csv(project / "results/metrics/comparison.tsv", sep="\t")
    assert sorted(table["model"]) == sorted(MODELS)
    assert table["run_id"].notna().all()
    for model in MODELS:
        for name in ("confusion_matrix.png", "learning_curve.png", "oof_predictions.csv"):
            assert (project / "results/models" / model / name).is_file()


def up_to_date(project: Path) -> None:
    """Bring the copy up to date with its own config and labels (after other tests changed it)."""
    run_snakemake(project, "--cores", "2")


def test_nothing_changed_runs_and_logs_nothing(built):
    project, *_ = built
    up_to_date(project)
    before = model_runs(project)
    proc = run_snakemake(project, "--cores", "2")
    assert "Nothing to be done" in proc.stdout + proc.stderr
    assert model_runs(project) == before


def test_report_renders(built):
    project, *_ = built
    run_snakemake(project, "--report", "report.html")
    html = (project / "report.html").read_text(encoding="utf-8", errors="replace")
    assert "comparison.tsv" in html and "learning_curve.png" in html
    assert "comparison.png" in html and "majority-class" in html  # its caption
    assert "one job each per" in html and "Outputs: the labeled" in html  # front page


def test_parent_run_holds_the_comparison_and_a_description(built):
    import mlflow

    project, *_ = built
    up_to_date(project)
    table = pd.read_csv(project / "results/metrics/comparison.tsv", sep="\t")
    uri = f"sqlite:///{project / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)  # load_table searches runs through the global URI
    client = mlflow.MlflowClient(tracking_uri=uri)
    child = client.get_run(table["run_id"].iloc[0])
    parent = client.get_run(child.data.tags["mlflow.parentRunId"])
    note = parent.data.tags["mlflow.note.content"]
    best = table.iloc[0]
    assert f"**{len(MODELS)} models**" in note and f"Best f_avg: **{best['model']}**" in note
    logged = client.load_table(parent.info.experiment_id, "comparison.json", [parent.info.run_id])
    assert list(logged["model"]) == list(table["model"])
    assert list(logged["run_id"]) == list(table["run_id"])


def test_one_hyperparameter_reruns_one_model(built):
    project, *_ = built
    up_to_date(project)
    path = project / "config/config.yaml"
    config = yaml.safe_load(path.read_text())
    entry = next(m for m in config["models"] if m["name"] == "word_lr")
    entry.setdefault("params", {})["C"] = 2.5
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    # The findings read the best model, known only after the comparison: every shard's stance
    # prediction is planned again.
    shards = len(list((project / "results/split").glob("shard-*.parquet")))
    assert planned_jobs(project) == {
        "train_model": 1, "log_model": 1, "compare_models": 1, "predict_stance": shards,
        "findings": 1, "all": 1,
    }  # fmt: skip
    before = model_runs(project)
    logs = {m: (project / f"logs/models/{m}.log").stat().st_mtime_ns for m in MODELS}
    run_snakemake(project, "--cores", "2")
    new = [r for r in model_runs(project) if r not in before]
    assert [m for m, _ in new] == ["word_lr"]
    log = (project / "logs/models/word_lr.log").read_text()
    assert re.findall(r"^(\w+): evaluating on", log, re.M) == ["word_lr"]
    for model in set(MODELS) - {"word_lr"}:  # not run again: their logs are as they were
        assert (project / f"logs/models/{model}.log").stat().st_mtime_ns == logs[model]


def test_one_label_reruns_the_label_stage_and_every_model(built):
    project, *_ = built
    up_to_date(project)
    path = project / "labels/synthetic.csv"
    original, stat = path.read_bytes(), path.stat()
    labels = pd.read_csv(path, keep_default_na=False)
    stances = schema_values("stance", project / "labels/schema.yaml")
    labels.loc[0, "stance"] = stances[(stances.index(labels.loc[0, "stance"]) + 1) % 3]
    labels.to_csv(path, index=False)
    try:
        jobs = planned_jobs(project)
    finally:  # leave the copy as it was: content and time stamp
        path.write_bytes(original)
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert jobs["labels"] == 1 and jobs["train_model"] == len(MODELS)
    shards = len(list((project / "results/split").glob("shard-*.parquet")))
    assert jobs["predict_stance"] == shards and jobs["findings"] == 1
    assert "tracking_store" not in jobs and "split_shard" not in jobs
    # A label of an article that had labels: its sentences are as they were.
    assert "labeled_sentences" not in jobs and jobs["label_queue"] == 1
    # The attribution rules read no label: only the speaker model is fit and applied again.
    assert "attribute_shard" not in jobs and jobs["speakers"] == jobs["speaker_model"] == 1


def test_a_new_article_nobody_labeled_retrains_nothing(built):
    project, *_ = built
    up_to_date(project)
    article = project / "seeds" / "999_new.txt"
    article.write_text(
        "NATO ministers met in Brussels on Tuesday. The Taliban said foreign troops must leave."
        "\n\nThey discussed the withdrawal plan.\n",
        encoding="utf-8",
    )
    try:
        jobs = planned_jobs(project)
    finally:
        article.unlink()
    # Its shard, and what reads the whole corpus: the queue, the leak guard's evaluation, the
    # findings. No label, stance model or speaker model job, and the other shards stay.
    for rule in ("split_shard", "attribute_shard", "predict_speakers", "predict_stance"):
        assert jobs[rule] == 1, jobs
    assert jobs["gather_sentences"] == jobs["label_queue"] == jobs["findings"] == 1
    for rule in ("labeled_sentences", "labels", "train_model", "log_model", "speaker_model"):
        assert rule not in jobs, jobs


def logged_params(project: Path, model: str, key: str) -> list[str]:
    """The values of one param of every logged run of a model, oldest first."""
    with sqlite3.connect(project / "mlflow.db") as db:
        rows = db.execute(
            "select p.value from params p join tags m on m.run_uuid = p.run_uuid"
            " join runs r on r.run_uuid = p.run_uuid"
            " where m.key = 'model' and m.value = ? and p.key = ? order by r.start_time",
            (model, key),
        ).fetchall()
    return [value for (value,) in rows]


def test_config_on_the_command_line_reaches_the_jobs(built):
    project, *_ = built
    up_to_date(project)
    seed = yaml.safe_load((project / "config/config.yaml").read_text())["seed"]
    marker = "results/models/majority/mlflow_run.json"  # one model keeps the test short
    proc = run_snakemake(project, marker, "--cores", "2", "--config", "seed=7")
    assert "rule train_model" in proc.stdout + proc.stderr and seed != 7
    metrics = json.loads((project / "results/models/majority/metrics.json").read_text())
    assert metrics["settings"]["seed"] == 7
    assert logged_params(project, "majority", "seed")[-1] == "7"
    # Back to the config file's seed: the model re-trains with it.
    run_snakemake(project, "--cores", "2", marker)
    metrics = json.loads((project / "results/models/majority/metrics.json").read_text())
    assert metrics["settings"]["seed"] == seed


def test_configfile_trains_exactly_its_model_list(built, tmp_path: Path):
    project, *_ = built
    up_to_date(project)
    other = yaml.safe_load((project / "config/config.yaml").read_text())
    other["models"] = [
        {"name": "majority", "kind": "majority"},
        {"name": "word_lr_c1", "kind": "tfidf_word", "params": {"C": 1.0}},
    ]
    (tmp_path / "other.yaml").write_text(yaml.safe_dump(other, sort_keys=False))
    run_snakemake(project, "--cores", "2", "--configfile", str(tmp_path / "other.yaml"))
    table = pd.read_csv(project / "results/metrics/comparison.tsv", sep="\t")
    assert sorted(table["model"]) == ["majority", "word_lr_c1"]
    summary = json.loads((project / "results/models/word_lr_c1/metrics.json").read_text())
    assert summary["params"]["C"] == 1.0 and summary["kind"] == "tfidf_word"
    assert logged_params(project, "word_lr_c1", "hp.C") == ["1.0"]


def test_job_logs_hold_what_the_jobs_print(built):
    project, *_ = built
    up_to_date(project)
    run_snakemake(project, "--cores", "2", "--forcerun", "train_model")
    logs = project / "logs"
    assert re.search(r"^labels: \d+ sentences labeled", (logs / "labels.log").read_text(), re.M)
    majority_log = (logs / "models/majority.log").read_text()
    assert re.search(r"^majority: f_avg [\d.]+ \[", majority_log, re.M)
    assert "majority: evaluating on" in majority_log
    assert "word_lr" not in majority_log  # each job its own log
    for model in MODELS:
        log = (logs / f"mlflow/{model}.log").read_text()
        assert re.search(rf"^{model}: (logged run|run) ", log, re.M)
    assert "article(s) split" in "".join(p.read_text() for p in (logs / "split").glob("*.log"))
    comparison_log = (logs / "mlflow/compare_models.log").read_text()
    assert re.search(r"^\s*word_speaker_lr\s+[\d.]+", comparison_log, re.M)


def test_speaker_stage_predicts_every_sentence_and_reruns_on_a_mapping_change(built):
    project, *_ = built
    up_to_date(project)
    out = project / "results/speakers"
    sentences = pd.read_parquet(project / "results/sentences.parquet")
    predicted = pd.read_parquet(out / "predicted.parquet")
    assert sorted(predicted["sentence_id"]) == sorted(sentences["sentence_id"])
    assert predicted["evidence"].str.len().gt(0).all()
    oof = pd.read_csv(out / "oof_predictions.csv", keep_default_na=False)
    assert list(oof.columns[:6]) == [
        "sentence_id", "article_id", "text", "speaker", "predicted_speaker", "evidence",
    ]  # fmt: skip
    stance = pd.read_csv(out / "stance_with_predicted_speakers.tsv", sep="\t")
    assert set(stance["model"]) == {"word_speaker_lr"}
    assert stance["speakers"].tolist() == ["hand", "predicted", "predicted_no_leak_guard"]
    with sqlite3.connect(project / "mlflow.db") as db:
        (logged,) = db.execute(
            "select count(*) from tags t join runs r on r.run_uuid = t.run_uuid where "
            "t.key = 'stance.role' and t.value = 'speakers' and r.status = 'FINISHED'"
        ).fetchone()
    assert logged >= 1
    # A new name in the mapping is data: the speaker stage runs again, no stance model does.
    path = project / "labels/speakers.yaml"
    original, stat = path.read_bytes(), path.stat()
    mapping = yaml.safe_load(original)
    mapping["speakers"]["other"].append("Ali Rahimi")
    path.write_text(yaml.safe_dump(mapping, sort_keys=False), encoding="utf-8")
    try:
        jobs = planned_jobs(project)
    finally:
        path.write_bytes(original)
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    shards = len(list((project / "results/split").glob("shard-*.parquet")))
    assert jobs == {
        "attribute_shard": shards, "speaker_model": 1, "speakers": 1, "predict_speakers": shards,
        "gather_speakers": 1, "speaker_stance": 1, "log_speakers": 1, "predict_stance": shards,
        "findings": 1, "all": 1,
    }  # fmt: skip


def test_findings_stage_counts_every_sentence_and_a_noop_stays_a_noop(built):
    project, *_ = built
    up_to_date(project)
    out = project / "results/findings"
    sentences = pd.read_parquet(project / "results/sentences.parquet")
    table = pd.read_parquet(out / "sentences.parquet")
    assert sorted(table["sentence_id"]) == sorted(sentences["sentence_id"])
    # Every sentence has a synthetic hand label here: all stances and speakers come from them.
    assert set(table["stance_source"]) == {"label"} and set(table["speaker_source"]) == {"label"}
    best = pd.read_csv(project / "results/metrics/comparison.tsv", sep="\t")["model"].iloc[0]
    by_speaker = pd.read_csv(out / "stance_by_speaker.tsv", sep="\t", keep_default_na=False)
    assert by_speaker["sentences"].sum() == len(table) == by_speaker["labeled"].sum()
    # The model's stance of each sentence comes from its shard's job (rule predict_stance).
    parts = sorted((out / "stance").glob("shard-*.parquet"))
    assert len(parts) == len(list((project / "results/split").glob("shard-*.parquet")))
    predicted = pd.concat([pd.read_parquet(p) for p in parts]).set_index("sentence_id")
    assert sorted(predicted.index) == sorted(sentences["sentence_id"])
    assert (predicted.loc[table["sentence_id"], "predicted"].to_numpy() == table["predicted"]).all()
    for name in ("stance_by_outlet.tsv", "stance_by_month.tsv", "stance_by_speaker.png",
                 "stance_over_time.png", "statement.html"):  # fmt: skip
        assert (out / name).is_file()
    assert f"**{best}**" in (out / "statement.md").read_text(encoding="utf-8")
    proc = run_snakemake(project, "--cores", "2")
    assert "Nothing to be done" in proc.stdout + proc.stderr
    # A new article re-runs its shard and what depends on the sentences, findings included.
    article = project / "seeds/999_findings_check.txt"
    article.write_text("The Taliban said foreign troops must leave.\n", encoding="utf-8")
    try:
        jobs = planned_jobs(project)
    finally:
        article.unlink()
    assert jobs["split_shard"] == 1 and jobs["findings"] == 1 and "tracking_store" not in jobs
    # No label names it: no model is trained again, only its shard's stance is predicted.
    assert jobs["predict_stance"] == 1 and "train_model" not in jobs
