"""The label stage end to end without Snakemake: data set, labeling queue, summaries, CLI."""

from __future__ import annotations

import json
import os
from pathlib import Path

import datasets
import pandas as pd
import pytest
import yaml
from helpers import ARTICLES, HEADER, ROOT, SCHEMA, make_sentences, row, sid, write_csv

from stance.cli.main import main
from stance.errors import StanceError
from stance.labels.stage import run_label_stage

OUTPUTS = {
    "out_dataset": "labeled_dataset",
    "out_unlabeled": "unlabeled.csv",
    "out_summary": "label_summary.tsv",
    "out_summary_by_article": "label_summary_by_article.tsv",
    "out_agreement": "agreement.json",
    "out_disagreements": "disagreements.csv",
}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A sentence table, an empty label folder and a copy of the schema."""
    (tmp_path / "labels").mkdir()
    (tmp_path / "labels" / "schema.yaml").write_text(SCHEMA.read_text(encoding="utf-8"))
    make_sentences().to_parquet(tmp_path / "sentences.parquet", index=False)
    return tmp_path


def run_stage(project: Path, **kwargs):
    outputs = {k: project / "results" / v for k, v in OUTPUTS.items()}
    result = run_label_stage(
        project / "sentences.parquet",
        project / "labels",
        project / "labels" / "schema.yaml",
        **outputs,
        **kwargs,
    )
    return result, outputs


def read_tsv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, sep="\t", dtype={"article_id": str})


def test_datasets_is_offline_when_the_package_imports_it():
    # A clean process: the datasets library itself must see offline mode at its first import.
    import subprocess
    import sys

    code = (
        "from stance.labels.dataset import dataset_features; "
        "from stance.labels.schema import load_schema; import sys; "
        f"dataset_features(load_schema({str(SCHEMA)!r})); "
        "import datasets.config as c; "
        "assert c.HF_DATASETS_OFFLINE is True, c.HF_DATASETS_OFFLINE; print('ok')"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "MLFLOW_"))}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.stdout.strip() == "ok", out.stderr


def test_labeled_dataset_has_class_labels_in_schema_order(project: Path):
    write_csv(
        project / "labels" / "ann.csv",
        [
            row("a2", 1, "afghan_government", "none", "ann"),
            row("a1", 2, "nato", "against", "ann"),
            row("a1", 0, "taliban", "favor", "ann"),
        ],
    )
    write_csv(project / "labels" / "bob.csv", [row("a1", 0, "taliban", "favor", "bob")])
    result, out = run_stage(project)
    assert (result.queue.sentences, result.labeled, result.queue.unlabeled) == (7, 3, 4)

    ds = datasets.load_from_disk(str(out["out_dataset"]))
    assert ds.column_names == [
        "sentence_id",
        "article_id",
        "position",
        "text",
        "speaker",
        "stance",
        "n_annotators",
    ]
    features = ds.features
    assert features["speaker"] == datasets.ClassLabel(
        names=["taliban", "us_government", "nato", "afghan_government", "russia", "other", "author"]
    )
    assert features["stance"].names == ["favor", "against", "none"]
    assert features["position"] == datasets.Value("int32")
    assert features["n_annotators"] == datasets.Value("int32")
    assert features["text"] == datasets.Value("string")
    # Sorted by article and position, labels decoded through the ClassLabel.
    assert ds["sentence_id"] == [sid("a1", 0), sid("a1", 2), sid("a2", 1)]
    assert ds["text"] == [ARTICLES["a1"][0], ARTICLES["a1"][2], ARTICLES["a2"][1]]
    assert features["speaker"].int2str(ds["speaker"]) == ["taliban", "nato", "afghan_government"]
    assert features["stance"].int2str(ds["stance"]) == ["favor", "against", "none"]
    assert ds["n_annotators"] == [2, 1, 1]
    assert datasets.load_from_disk(str(out["out_dataset"]))["sentence_id"] == ds["sentence_id"]


def test_queue_and_summaries(project: Path):
    write_csv(
        project / "labels" / "ann.csv",
        [
            row("a1", 0, "taliban", "favor", "ann"),
            row("a1", 1, "us_government", "against", "ann"),
            row("a2", 0, "russia", "favor", "ann"),
        ],
    )
    _, out = run_stage(project)
    queue = pd.read_csv(out["out_unlabeled"], dtype={"article_id": str})
    assert list(queue.columns) == ["sentence_id", "article_id", "position", "text"]
    assert queue["sentence_id"].tolist() == [sid("a1", 2), sid("a1", 3), sid("a2", 1), sid("a2", 2)]

    summary = read_tsv(out["out_summary"]).set_index("speaker")
    assert list(summary.columns) == ["favor", "against", "none", "total"]
    assert summary.index.tolist()[-1] == "total" and len(summary) == 8
    assert summary.loc["taliban"].tolist() == [1, 0, 0, 1]
    assert summary.loc["russia"].tolist() == [1, 0, 0, 1]
    assert summary.loc["nato"].tolist() == [0, 0, 0, 0]
    assert summary.loc["total"].tolist() == [2, 1, 0, 3]

    by_article = read_tsv(out["out_summary_by_article"]).set_index("article_id")
    assert list(by_article.columns) == [
        "sentences",
        "labeled",
        "unlabeled",
        "stance_favor",
        "stance_against",
        "stance_none",
    ]
    assert by_article.loc["a1"].tolist() == [4, 2, 2, 1, 1, 0]
    assert by_article.loc["a2"].tolist() == [3, 1, 2, 1, 0, 0]


def test_no_label_files_gives_an_empty_valid_dataset(project: Path):
    result, out = run_stage(project)
    assert (result.labeled, result.queue.unlabeled) == (0, 7)
    ds = datasets.load_from_disk(str(out["out_dataset"]))
    assert ds.num_rows == 0
    assert ds.features["stance"].names == ["favor", "against", "none"]
    queue = pd.read_csv(out["out_unlabeled"])
    assert len(queue) == 7 and queue["position"].tolist() == [0, 1, 2, 3, 0, 1, 2]
    assert read_tsv(out["out_summary"]).set_index("speaker").loc["total", "total"] == 0
    assert read_tsv(out["out_summary_by_article"])["unlabeled"].tolist() == [4, 3]
    report = json.loads(out["out_agreement"].read_text(encoding="utf-8"))
    assert report["status"] == "no labels"
    assert pd.read_csv(out["out_disagreements"]).empty


def test_adjudication_and_priority_reach_the_dataset(project: Path):
    write_csv(
        project / "labels" / "shared.csv",
        [
            row("a1", 0, "taliban", "favor", "ann"),
            row("a1", 0, "taliban", "none", "bob"),
            row("a1", 1, "us_government", "against", "ann"),
            row("a1", 1, "us_government", "none", "bob"),
        ],
    )
    write_csv(
        project / "labels" / "adjudication.csv",
        [[sid("a1", 1), "other", "none"]],
        header=["sentence_id", "speaker", "stance"],
    )
    result, out = run_stage(project, annotator_priority=["bob"])
    ds = datasets.load_from_disk(str(out["out_dataset"]))
    stance = ds.features["stance"]
    assert stance.int2str(ds["stance"]) == ["none", "none"]  # bob wins the tie; adjudicated
    assert ds.features["speaker"].int2str(ds["speaker"]) == ["taliban", "other"]
    report = json.loads(out["out_agreement"].read_text(encoding="utf-8"))
    assert [t["sentence_id"] for t in report["ties"]] == [sid("a1", 0)]
    assert report["adjudicated"] == 1
    # adjudication.csv is not a label file
    assert set(result.label_set.labels["file"]) == {str(project / "labels" / "shared.csv")}


def test_added_speaker_needs_no_code_change(project: Path):
    schema_path = project / "labels" / "schema.yaml"
    data = yaml.safe_load(schema_path.read_text(encoding="utf-8"))
    data["fields"]["speaker"]["values"].append(
        {"name": "pakistan", "key": "p", "description": "Pakistani officials"}
    )
    schema_path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    write_csv(project / "labels" / "ann.csv", [row("a1", 3, "pakistan", "favor", "ann")])
    _, out = run_stage(project)
    ds = datasets.load_from_disk(str(out["out_dataset"]))
    assert ds.features["speaker"].names[-1] == "pakistan"
    assert ds.features["speaker"].int2str(ds["speaker"]) == ["pakistan"]
    assert "pakistan" in read_tsv(out["out_summary"])["speaker"].tolist()


def test_bad_labels_write_nothing(project: Path):
    write_csv(project / "labels" / "ann.csv", [row("a1", 0, "talib", "favor", "ann")])
    with pytest.raises(StanceError, match="talib"):
        run_stage(project)
    assert not (project / "results").exists()


def test_rerun_replaces_the_dataset(project: Path):
    _, out = run_stage(project)
    write_csv(project / "labels" / "ann.csv", [row("a1", 0, "taliban", "favor", "ann")])
    run_stage(project)
    assert datasets.load_from_disk(str(out["out_dataset"])).num_rows == 1
    leftovers = [p.name for p in out["out_dataset"].parent.iterdir() if p.name.startswith(".")]
    assert leftovers == []  # no temporary or old copies left beside the outputs


def cli_args(project: Path) -> list[str]:
    args = [
        "labels",
        "--config",
        str(ROOT / "config" / "config.yaml"),
        "--sentences",
        str(project / "sentences.parquet"),
        "--labels-dir",
        str(project / "labels"),
        "--schema",
        str(project / "labels" / "schema.yaml"),
    ]
    for key, name in OUTPUTS.items():
        args += [f"--{key.replace('_', '-')}", str(project / "results" / name)]
    return args


def test_cli_prints_a_summary(project: Path, capsys):
    write_csv(project / "labels" / "ann.csv", [row("a1", 0, "taliban", "favor", "ann")])
    assert main(cli_args(project)) == 0
    out = capsys.readouterr().out
    assert "labels: 1 of 7 sentences labeled, 6 unlabeled" in out
    assert "1 annotator(s): ann" in out
    assert "agreement: single annotator" in out


def test_cli_reports_label_problems_without_traceback(project: Path, capsys):
    path = write_csv(
        project / "labels" / "ann.csv",
        [row("a1", 0, "taliban", "favor", "ann")],
        header=[h for h in HEADER if h != "annotator"],
    )
    assert main(cli_args(project)) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: 1 problem(s) in the label files")
    assert f"{path} row 1: missing column(s) 'annotator'" in err
    assert "Traceback" not in err


def test_the_queue_stage_reads_the_labels_from_the_data_set(project: Path, tmp_path: Path):
    # The workflow builds the data set from the labeled articles only (rule labels) and the
    # queue from the whole corpus (rule label_queue): the same files as one full stage.
    from stance.labels.stage import run_queue_stage

    write_csv(
        project / "labels" / "ann.csv",
        [row("a2", 1, "afghan_government", "none", "ann"), row("a1", 2, "nato", "against", "ann")],
    )
    result, outputs = run_stage(project)
    queue = run_queue_stage(
        project / "sentences.parquet", outputs["out_dataset"], project / "labels",
        project / "labels" / "schema.yaml", out_unlabeled=tmp_path / "unlabeled.csv",
        out_summary_by_article=tmp_path / "by_article.tsv",
    )  # fmt: skip
    assert (queue.sentences, queue.unlabeled) == (result.queue.sentences, 5)
    assert (tmp_path / "unlabeled.csv").read_bytes() == outputs["out_unlabeled"].read_bytes()
    by_article = (tmp_path / "by_article.tsv").read_bytes()
    assert by_article == outputs["out_summary_by_article"].read_bytes()
    assert queue.design == result.queue.design


def test_labeled_articles_are_read_from_the_label_files_leniently(project: Path):
    from stance.labels.files import labeled_articles

    good = write_csv(project / "labels" / "ann.csv", [row("a1", 0, "taliban", "favor", "ann")])
    broken = project / "labels" / "broken.csv"
    broken.write_bytes(b"\xff\xfe not a label file")
    no_column = project / "labels" / "other.csv"
    no_column.write_text("id,text\nx:1,Hello.\n", encoding="utf-8")
    # The label stage reports what is wrong with the other two files.
    assert labeled_articles([good, broken, no_column, project / "missing.csv"]) == {"a1"}
