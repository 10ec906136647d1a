"""Labels out to and back from Label Studio, doccano and Prodigy; the Hugging Face data set export.

The tool files are written here by hand from each tool's documented format (no tool is needed):

- Label Studio: tasks to import, with ``predictions`` for pre-annotations,
  https://labelstud.io/guide/predictions and https://labelstud.io/guide/tasks ; the JSON export
  of annotated tasks (``annotations`` with ``result``, ``was_cancelled``, ``completed_by``),
  https://labelstud.io/guide/export.html#Label-Studio-JSON-format-of-annotated-tasks
- doccano: JSONL import (extra keys are metadata),
  https://doccano.github.io/doccano/tutorial/#import-dataset ; text classification JSONL export
  (``label`` list), https://doccano.github.io/doccano/tutorial/#export-data
- Prodigy: choice tasks (``options``) and answers (``accept`` with the chosen option IDs,
  ``answer`` accept/reject/ignore), https://prodi.gy/docs/api-interfaces#choice ; ``db-out``,
  https://prodi.gy/docs/recipes#db-out
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from helpers import (
    ARTICLES,
    ROOT,
    SCHEMA,
    make_dataset,
    make_sentences,
    schema_values,
    write_csv,
)

from stance.cli.main import TOOL_NAMES, main
from stance.interop.common import Suggestion
from stance.interop.exporting import TOOLS, queue_items
from stance.labels.design import read_manifest
from stance.labels.files import load_labels
from stance.labels.schema import load_schema

# A third article repeats a sentence of a1: a text-only match of it is ambiguous.
CORPUS = {**ARTICLES, "a3": ["Talks resumed in Doha.", "The envoy left Kabul on Friday."]}
SPEAKERS = schema_values("speaker")
STANCES = schema_values("stance")


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project with config, the tests' schema, guidelines, a sentence table and no labels."""
    (tmp_path / "config").mkdir()
    shutil.copy(ROOT / "config" / "config.yaml", tmp_path / "config")
    shutil.copytree(ROOT / "workflow" / "schemas", tmp_path / "workflow" / "schemas")
    (tmp_path / "labels").mkdir()
    shutil.copy(SCHEMA, tmp_path / "labels" / "schema.yaml")
    shutil.copy(ROOT / "labels" / "GUIDELINES.md", tmp_path / "labels" / "GUIDELINES.md")
    (tmp_path / "results").mkdir()
    make_sentences(CORPUS).to_parquet(tmp_path / "results" / "sentences.parquet")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def stance(*args: str) -> int:
    return main(list(args))


def label_for(i: int) -> tuple[str, str]:
    """A deterministic 'human' answer for the i-th item."""
    return SPEAKERS[i % len(SPEAKERS)], STANCES[i % len(STANCES)]


def read_rows(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def read_jsonl(path: Path) -> list[dict]:
    # "\n" only: a JSON string may hold a raw U+2028, which splitlines would split at.
    lines = path.read_text(encoding="utf-8").split("\n")
    return [json.loads(line) for line in lines if line.strip()]


def write_jsonl(path: Path, objs: list[dict]) -> Path:
    path.write_text("".join(json.dumps(o) + "\n" for o in objs), encoding="utf-8")
    return path


def check_round_trip(project: Path, name: str, answered: dict[str, tuple[str, str, str]]) -> None:
    """labels/NAME.csv holds exactly the answered sentences, with their exact texts, and passes
    the label stage's validation."""
    sentences = make_sentences(CORPUS)
    texts = dict(zip(sentences["sentence_id"], sentences["text"], strict=True))
    rows = read_rows(project / "labels" / f"{name}.csv")
    got = {r["sentence_id"]: (r["speaker"], r["stance"], r["note"]) for r in rows}
    assert got == answered
    assert all(r["text"] == texts[r["sentence_id"]] and r["annotator"] == name for r in rows)
    load_labels(project / "labels", sentences, load_schema(SCHEMA))  # raises on any problem


def ls_result(speaker: str, stance_value: str, note: str = "") -> list[dict]:
    result = [
        {
            "id": "r1",
            "from_name": "speaker",
            "to_name": "text",
            "type": "choices",
            "origin": "manual",
            "value": {"choices": [speaker]},
        },
        {
            "id": "r2",
            "from_name": "stance",
            "to_name": "text",
            "type": "choices",
            "origin": "manual",
            "value": {"choices": [stance_value]},
        },
    ]
    if note:
        result.append(
            {"from_name": "note", "to_name": "text", "type": "textarea", "value": {"text": [note]}}
        )
    return result


def ls_annotated(task: dict, i: int, result: list[dict], **extra) -> dict:
    """A task as Label Studio's JSON export shows it after one annotation."""
    return {
        "id": 100 + i,
        "data": task["data"],
        "annotations": [
            {
                "id": 500 + i,
                "completed_by": 1,
                "result": result,
                "was_cancelled": False,
                "ground_truth": False,
                "lead_time": 4.2,
                **extra,
            }
        ],
        "predictions": task.get("predictions", []),
        "meta": {},
        "created_at": "2024-05-01T10:00:00.000000Z",
        "project": 1,
    }


def test_label_studio_round_trip(project: Path, capsys: pytest.CaptureFixture):
    assert stance("export", "--to", "label-studio") == 0
    tasks = json.loads((project / "results/label-studio/tasks.json").read_text())
    assert len(tasks) == len(make_sentences(CORPUS))
    first = tasks[0]["data"]
    assert first["before"] == "" and first["after"] == ARTICLES["a1"][1]
    assert first["article_id"] == "a1" and first["sentence_id"].startswith("a1:")
    assert "predictions" not in tasks[0]

    config = ET.parse(project / "results/label-studio/tasks.label_config.xml").getroot()
    for field, values in (("speaker", SPEAKERS), ("stance", STANCES)):
        choices = config.find(f"Choices[@name='{field}']")
        assert [c.get("value") for c in choices.findall("Choice")] == values
        assert choices.get("toName") == "text" and choices.get("choice") == "single-radio"
    assert [t.get("name") for t in config.findall("Text")] == ["before", "text", "after"]

    export, answered = [], {}
    for i, task in enumerate(tasks):
        if i == 2:  # skipped in Label Studio: no label
            item = ls_annotated(task, i, [], was_cancelled=True)
        elif i == 3:  # not annotated at all
            item = {**ls_annotated(task, i, []), "annotations": []}
        else:
            speaker, value = label_for(i)
            note = "quoted indirectly, see next sentence" if i == 1 else ""
            item = ls_annotated(task, i, ls_result(speaker, value, note))
            answered[task["data"]["sentence_id"]] = (speaker, value, note)
        export.append(item)
    source = project / "project-1-at-2024-05-01.json"
    source.write_text(json.dumps(export), encoding="utf-8")
    capsys.readouterr()
    assert stance("import", str(source), "--from", "label-studio", "--annotator", "jane") == 0
    out = capsys.readouterr()
    assert f"{len(answered)} new label(s)" in out.out
    assert "item 3 (task id 102): skipped (cancelled)" in out.err
    assert "item 4 (task id 103): no annotation" in out.err
    check_round_trip(project, "jane", answered)


def test_doccano_round_trip(project: Path, capsys: pytest.CaptureFixture):
    assert stance("export", "--to", "doccano", "--out", "dc/tasks.jsonl") == 0
    lines = read_jsonl(project / "dc/tasks.jsonl")
    assert all("label" not in line for line in lines)  # nothing pre-filled as if a person had
    assert {"sentence_id", "article_id", "position", "before", "after"} <= set(lines[0])
    types = json.loads((project / "dc/tasks.labels.json").read_text())
    assert [t["text"] for t in types] == [f"speaker:{v}" for v in SPEAKERS] + [
        f"stance:{v}" for v in STANCES
    ]

    exported, answered = [], {}
    for i, line in enumerate(lines):
        meta = {k: v for k, v in line.items() if k != "text"}
        if i == 0:  # not labeled in doccano
            exported.append({"id": i + 1, "text": line["text"], "label": [], **meta})
            continue
        speaker, value = label_for(i)
        labels = [f"stance:{value}", f"speaker:{speaker}"]
        if i % 2:  # older doccano versions nest the metadata under "meta"
            exported.append({"id": i + 1, "text": line["text"], "meta": meta, "label": labels})
        else:
            exported.append(
                {"id": i + 1, "text": line["text"], "Comments": [], "label": labels, **meta}
            )
        answered[line["sentence_id"]] = (speaker, value, "")
    source = write_jsonl(project / "admin.jsonl", exported)
    assert stance("import", str(source), "--from", "doccano", "--annotator", "sam") == 0
    assert "line 1: no label" in capsys.readouterr().err
    check_round_trip(project, "sam", answered)


def test_prodigy_round_trip(project: Path, capsys: pytest.CaptureFixture):
    assert stance("export", "--to", "prodigy") == 0
    tasks = read_jsonl(project / "results/prodigy/tasks.jsonl")
    ids = [o["id"] for o in tasks[0]["options"]]
    assert ids == [f"speaker:{v}" for v in SPEAKERS] + [f"stance:{v}" for v in STANCES]
    assert tasks[0]["config"] == {"choice_style": "multiple"}
    assert "accept" not in tasks[0] and tasks[0]["meta"]["sentence_id"].startswith("a1:")
    assert ARTICLES["a1"][1] in tasks[0]["html"]  # the next sentence as context

    answers, answered = [], {}
    for i, task in enumerate(tasks):
        base = {**task, "_input_hash": 1000 + i, "_task_hash": 2000 + i, "_view_id": "choice"}
        base |= {"_session_id": "stance-ann", "_timestamp": 1714557600 + i}
        if i in (1, 2):
            answers.append({**base, "accept": [], "answer": ["reject", "ignore"][i - 1]})
            continue
        speaker, value = label_for(i)
        answers.append(
            {**base, "accept": [f"speaker:{speaker}", f"stance:{value}"]} | {"answer": "accept"}
        )
        answered[task["meta"]["sentence_id"]] = (speaker, value, "")
    answers.append(answers[0])  # the same answer twice (two sessions) is one label
    source = write_jsonl(project / "answers.jsonl", answers)
    assert stance("import", str(source), "--from", "prodigy", "--annotator", "kim") == 0
    err = capsys.readouterr().err
    assert "line 2: answer 'reject'" in err and "line 3: answer 'ignore'" in err
    check_round_trip(project, "kim", answered)


def test_suggestions_are_marked_and_never_imported(project: Path, capsys: pytest.CaptureFixture):
    """A model suggestion is a Label Studio prediction, doccano/Prodigy metadata; only what a
    person chose comes back."""
    schema = load_schema(SCHEMA)
    sentences = make_sentences(CORPUS)
    first = sentences["sentence_id"][0]
    suggestion = Suggestion("stance", STANCES[0], 0.83, "word_lr (run abc123)")
    items = queue_items(
        sentences, skip=set(sentences["sentence_id"][2:]), suggestions={first: suggestion}
    )
    assert [i.suggestion for i in items] == [suggestion, None]

    TOOLS["label-studio"].write_tasks(items, schema, project / "ls.json")
    task = json.loads((project / "ls.json").read_text())[0]
    (prediction,) = task["predictions"]
    assert prediction["model_version"] == "suggestion: word_lr (run abc123)"
    assert prediction["score"] == 0.83
    assert prediction["result"][0]["value"] == {"choices": [STANCES[0]]}
    TOOLS["doccano"].write_tasks(items, schema, project / "dc.jsonl")
    line = read_jsonl(project / "dc.jsonl")[0]
    assert "label" not in line and line["model_suggestion"].startswith(f"stance:{STANCES[0]}")
    TOOLS["prodigy"].write_tasks(items, schema, project / "pg.jsonl")
    line = read_jsonl(project / "pg.jsonl")[0]
    assert "accept" not in line and "word_lr" in line["meta"]["model_suggestion"]

    # The annotator chose otherwise on the first task and left the second unannotated (only
    # the prediction): the import takes the human answer and no label for the second.
    tasks = json.loads((project / "ls.json").read_text())
    tasks[1]["predictions"] = tasks[0]["predictions"]
    export = [ls_annotated(tasks[0], 0, ls_result(SPEAKERS[1], STANCES[2]))]
    export.append({**ls_annotated(tasks[1], 1, []), "annotations": []})
    source = project / "export.json"
    source.write_text(json.dumps(export), encoding="utf-8")
    assert stance("import", str(source), "--from", "label-studio", "--annotator", "jane") == 0
    check_round_trip(project, "jane", {first: (SPEAKERS[1], STANCES[2], "")})


def test_unknown_value_names_file_item_value_and_allowed(project: Path, capsys):
    assert stance("export", "--to", "label-studio") == 0
    tasks = json.loads((project / "results/label-studio/tasks.json").read_text())
    export = [
        ls_annotated(tasks[0], 0, ls_result(SPEAKERS[0], STANCES[0])),
        ls_annotated(tasks[1], 1, ls_result(SPEAKERS[0], "maybe")),
    ]
    source = project / "export.json"
    source.write_text(json.dumps(export), encoding="utf-8")
    capsys.readouterr()
    assert stance("import", str(source), "--from", "label-studio", "--annotator", "jane") == 2
    err = capsys.readouterr().err
    assert err.startswith("error: 1 problem(s) importing")
    assert f"{source} item 2 (task id 101): stance 'maybe' is not an allowed value" in err
    assert f"use one of: {', '.join(STANCES)}" in err
    assert "nothing was written" in err and "Traceback" not in err
    assert not (project / "labels" / "jane.csv").exists()


def test_unmatched_text_is_listed_with_its_line(project: Path, capsys):
    lines = [
        {"text": ARTICLES["a1"][0], "label": [f"speaker:{SPEAKERS[0]}", f"stance:{STANCES[0]}"]},
        {
            "text": "A sentence no article has.",
            "label": [f"speaker:{SPEAKERS[0]}", f"stance:{STANCES[2]}"],
        },
        {
            "text": "Kabul rejected the deal!",
            "article_id": "a2",
            "label": ["speaker:x", "stance:none"],
        },
    ]
    source = write_jsonl(project / "admin.jsonl", lines)
    assert stance("import", str(source), "--from", "doccano", "--annotator", "sam") == 2
    err = capsys.readouterr().err
    assert (
        f"{source} line 2: no sentence of any article has the text 'A sentence no article " in err
    )
    assert "(unmatched)" in err
    assert f"{source} line 3: no sentence of article 'a2' has the text" in err
    assert f"{source} line 3: speaker 'x' is not an allowed value" in err
    assert "line 1" not in err  # matched by its text alone
    assert not (project / "labels" / "sam.csv").exists()


def test_ambiguous_text_lists_every_candidate(project: Path, capsys):
    repeated = "Talks resumed in Doha."  # in a1 and a3
    answer = {
        "text": repeated,
        "options": [],
        "accept": [f"speaker:{SPEAKERS[0]}", f"stance:{STANCES[2]}"],
        "answer": "accept",
    }
    source = write_jsonl(project / "answers.jsonl", [answer])
    assert stance("import", str(source), "--from", "prodigy", "--annotator", "kim") == 2
    err = capsys.readouterr().err
    sentences = make_sentences(CORPUS)
    ids = sentences.loc[sentences["text"] == repeated, "sentence_id"].tolist()
    assert len(ids) == 2
    assert f"{source} line 1: the text {repeated!r} is sentence {ids[0]!r} and {ids[1]!r}" in err
    assert "(ambiguous" in err
    assert not (project / "labels" / "kim.csv").exists()
    # With the article (as in a task written by `stance export`) it is found.
    answer["meta"] = {"article_id": "a3"}
    write_jsonl(source, [answer])
    assert stance("import", str(source), "--from", "prodigy", "--annotator", "kim") == 0
    assert read_rows(project / "labels" / "kim.csv")[0]["sentence_id"] == ids[1]


def test_edited_text_and_conflicting_answers_are_refused(project: Path, capsys):
    assert stance("export", "--to", "label-studio") == 0
    tasks = json.loads((project / "results/label-studio/tasks.json").read_text())
    edited = json.loads(json.dumps(tasks[0]))
    edited["data"]["text"] = edited["data"]["text"].replace("full", "partial")
    export = [
        ls_annotated(edited, 0, ls_result(SPEAKERS[0], STANCES[0])),
        ls_annotated(tasks[1], 1, ls_result(SPEAKERS[0], STANCES[0])),
        ls_annotated(tasks[1], 2, ls_result(SPEAKERS[1], STANCES[0])),
    ]
    source = project / "export.json"
    source.write_text(json.dumps(export), encoding="utf-8")
    assert stance("import", str(source), "--from", "label-studio", "--annotator", "jane") == 2
    err = capsys.readouterr().err
    assert "item 1 (task id 100): the text does not match sentence" in err
    assert "item 3 (task id 102): labels sentence" in err and "item 2 (task id 101)" in err
    assert not (project / "labels" / "jane.csv").exists()


def test_several_label_studio_annotators(project: Path, capsys):
    assert stance("export", "--to", "label-studio") == 0
    tasks = json.loads((project / "results/label-studio/tasks.json").read_text())
    item = ls_annotated(tasks[0], 0, ls_result(SPEAKERS[0], STANCES[0]))
    other = {**item["annotations"][0], "completed_by": {"id": 2, "email": "b@example.org"}}
    other["result"] = ls_result(SPEAKERS[1], STANCES[1])
    item["annotations"].append(other)
    source = project / "export.json"
    source.write_text(json.dumps([item]), encoding="utf-8")
    assert stance("import", str(source), "--from", "label-studio", "--annotator", "jane") == 2
    assert "item 1 (task id 100): 2 annotations (by users 1, b@example.org)" in (
        capsys.readouterr().err
    )
    args = ["import", str(source), "--from", "label-studio", "--annotator", "bea"]
    assert stance(*args, "--completed-by", "b@example.org") == 0
    assert read_rows(project / "labels" / "bea.csv")[0]["speaker"] == SPEAKERS[1]


def test_existing_file_is_refused_or_merged(project: Path, capsys):
    sentences = make_sentences(CORPUS)
    ids, texts = list(sentences["sentence_id"]), list(sentences["text"])
    write_csv(
        project / "labels" / "sam.csv",
        [[ids[0], texts[0], SPEAKERS[0], STANCES[0], "sam", "by hand"]],
    )
    before = (project / "labels" / "sam.csv").read_bytes()

    def doccano(rows: list[tuple[int, str, str]]) -> Path:
        lines = [
            {"text": texts[i], "sentence_id": ids[i], "label": [f"speaker:{s}", f"stance:{v}"]}
            for i, s, v in rows
        ]
        return write_jsonl(project / "admin.jsonl", lines)

    source = doccano([(0, SPEAKERS[0], STANCES[0]), (1, SPEAKERS[2], STANCES[1])])
    assert stance("import", str(source), "--from", "doccano", "--annotator", "sam") == 2
    assert "already exists (1 label(s)); nothing was written" in capsys.readouterr().err
    assert (project / "labels" / "sam.csv").read_bytes() == before

    # A different label for a sentence already in the file: a problem, nothing written.
    source = doccano([(0, SPEAKERS[1], STANCES[0]), (1, SPEAKERS[2], STANCES[1])])
    assert stance("import", str(source), "--from", "doccano", "--annotator", "sam", "--merge") == 2
    err = capsys.readouterr().err
    assert f"{source} line 1: labels sentence {ids[0]!r} with speaker={SPEAKERS[1]}" in err
    assert "row 2 has" in err
    assert (project / "labels" / "sam.csv").read_bytes() == before

    source = doccano([(0, SPEAKERS[0], STANCES[0]), (1, SPEAKERS[2], STANCES[1])])
    assert stance("import", str(source), "--from", "doccano", "--annotator", "sam", "--merge") == 0
    assert "1 new label(s), 1 already there" in capsys.readouterr().out
    rows = read_rows(project / "labels" / "sam.csv")
    assert [(r["sentence_id"], r["speaker"], r["note"]) for r in rows] == [
        (ids[0], SPEAKERS[0], "by hand"),
        (ids[1], SPEAKERS[2], ""),
    ]
    load_labels(project / "labels", sentences, load_schema(SCHEMA))


def test_export_sample_is_reproducible(project: Path):
    def export(seed: str, out: str) -> list[str]:
        assert (
            stance("export", "--to", "doccano", "--sample", "4", "--seed", seed, "--out", out) == 0
        )
        return [line["sentence_id"] for line in read_jsonl(project / out)]

    first, again, other = export("7", "a.jsonl"), export("7", "b.jsonl"), export("8", "c.jsonl")
    assert len(first) == 4 and first == again and first != other
    assert (project / "a.jsonl").read_bytes() == (project / "b.jsonl").read_bytes()
    # The sample is recorded, as `stance label --sample 4 --seed 7` records it (and would
    # label the same sentences, in the order drawn; the export lists them in article order).
    manifest = read_manifest(project / "labels" / "samples" / "sentences-seed7.json")
    assert set(first) == set(manifest.sample) and len(manifest.frame) == len(make_sentences(CORPUS))


def test_export_leaves_out_labeled_sentences(project: Path):
    sentences = make_sentences(CORPUS)
    ids, texts = list(sentences["sentence_id"]), list(sentences["text"])
    write_csv(
        project / "labels" / "sam.csv", [[ids[0], texts[0], SPEAKERS[0], STANCES[0], "sam", ""]]
    )
    write_csv(
        project / "labels" / "kim.csv", [[ids[1], texts[1], SPEAKERS[0], STANCES[0], "kim", ""]]
    )

    def exported(*args: str) -> list[str]:
        assert stance("export", "--to", "prodigy", "--out", "t.jsonl", *args) == 0
        return [t["meta"]["sentence_id"] for t in read_jsonl(project / "t.jsonl")]

    assert exported("--annotator", "sam") == ids[1:]
    assert exported("--unlabeled") == ids[2:]


def test_bad_files_name_line_and_fix(project: Path, capsys):
    source = project / "export.json"
    source.write_text('[{"data": {"text": "x"}},\n oops]', encoding="utf-8")
    assert stance("import", str(source), "--from", "label-studio", "--annotator", "jane") == 2
    err = capsys.readouterr().err
    assert f"{source} line 2 column 2: not valid JSON" in err and "Export > JSON" in err
    source.write_text(json.dumps([{"data": {"text": "x"}}, {"text": "x"}]), encoding="utf-8")
    assert stance("import", str(source), "--from", "label-studio", "--annotator", "jane") == 2
    assert "item 2: no 'data' object" in capsys.readouterr().err
    tasks = write_jsonl(project / "tasks.jsonl", [{"text": "x", "options": []}])
    assert stance("import", str(tasks), "--from", "prodigy", "--annotator", "kim") == 2
    assert "line 1: answer is None" in capsys.readouterr().err
    assert stance("import", "missing.json", "--from", "doccano", "--annotator", "kim") == 2
    assert "missing.json: file not found" in capsys.readouterr().err


def test_tool_names_of_the_command_line():
    assert list(TOOLS) == TOOL_NAMES


def test_dataset_export_loads_offline(project: Path, tmp_path: Path, capsys):
    sentences = make_sentences(CORPUS)
    ids, texts = list(sentences["sentence_id"]), list(sentences["text"])
    write_csv(
        project / "labels" / "sam.csv",
        [[ids[i], texts[i], SPEAKERS[-1 - i], STANCES[i % 3], "sam", ""] for i in range(6)],
    )
    write_csv(
        project / "labels" / "kim.csv",
        [
            [ids[i], texts[i], SPEAKERS[-1 - i], STANCES[(i + i // 3) % 3], "kim", ""]
            for i in range(6)
        ],
    )
    assert stance("export", "--dataset", "hf") == 0
    card = (project / "hf" / "README.md").read_text(encoding="utf-8")
    assert card.startswith("---\nlicense: other\n")
    assert "Cohen's kappa" in card and "| a1 | 4 |" in card
    assert (project / "hf" / "GUIDELINES.md").is_file()

    os.environ["HF_DATASETS_OFFLINE"] = "1"
    import datasets

    cache = str(tmp_path / "hf_cache")
    labeled = datasets.load_dataset(str(project / "hf"), split="train", cache_dir=cache)
    assert labeled.num_rows == 6
    assert labeled.features["stance"].names == STANCES
    assert labeled.features["speaker"].names == SPEAKERS
    assert labeled["sentence_id"] == ids[:6]
    assert labeled.features["speaker"].int2str(labeled["speaker"][0]) == SPEAKERS[-1]
    per_annotator = datasets.load_dataset(
        str(project / "hf"), "annotations", split="train", cache_dir=cache
    )
    assert per_annotator.num_rows == 12 and set(per_annotator["annotator"]) == {"sam", "kim"}

    # Exporting again replaces the folder; another folder is never replaced.
    assert stance("export", "--dataset", "hf") == 0
    (project / "other").mkdir()
    (project / "other" / "keep.txt").write_text("mine")
    capsys.readouterr()
    assert stance("export", "--dataset", "other") == 2
    assert "is not a data set written by `stance export --dataset`" in capsys.readouterr().err
    assert (project / "other" / "keep.txt").read_text() == "mine"


def test_suggestions_from_a_logged_model(project: Path, monkeypatch, capsys):
    """`--suggestions` takes the best finished text-only model from MLflow (here one logged by
    `stance train`) and marks its stance as a Label Studio prediction."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    data = make_dataset(n_articles=4, per_article=12).to_pandas()
    table = project / "train.csv"
    data.assign(stance=[STANCES[i] for i in data["stance"]], group=data["article_id"])[
        ["text", "stance", "group"]
    ].to_csv(table, index=False)
    assert stance("train", str(table), "--model", "word_lr", "--out", "results/train") == 0
    capsys.readouterr()
    assert stance("export", "--to", "label-studio", "--suggestions") == 0
    assert "with model suggestions" in capsys.readouterr().out
    tasks = json.loads((project / "results/label-studio/tasks.json").read_text())
    assert len(tasks) == len(make_sentences(CORPUS))
    for task in tasks:
        (prediction,) = task["predictions"]
        assert prediction["model_version"].startswith("suggestion: word_lr (run ")
        assert 0 < prediction["score"] <= 1
        assert prediction["result"][0]["from_name"] == "stance"
        assert prediction["result"][0]["value"]["choices"][0] in STANCES


# --------------------------------------------------------------------------- where exports write


def test_export_out_never_replaces_files_it_did_not_write(project: Path, capsys):
    sentences = make_sentences(CORPUS)
    lead = write_csv(
        project / "labels" / "lead.csv",
        [[sentences["sentence_id"][0], sentences["text"][0], SPEAKERS[0], STANCES[0], "lead", ""]],
    )
    (project / "seeds").mkdir()
    seed = project / "seeds" / "a1.txt"
    seed.write_text("The Taliban urged a full withdrawal.\n", encoding="utf-8")
    config = project / "config" / "config.yaml"
    kept = {p: p.read_bytes() for p in (lead, seed, config)}
    for path in ("labels/lead.csv", "seeds/a1.txt", "config/config.yaml", "labels/new.jsonl"):
        for force in ([], ["--force"]):
            capsys.readouterr()
            assert stance("export", "--to", "doccano", "--out", path, *force) == 2
            err = capsys.readouterr().err
            assert "never writes to (not even with --force); nothing was written" in err
    assert {p: p.read_bytes() for p in kept} == kept
    assert sorted(p.name for p in (project / "labels").iterdir()) == [
        "GUIDELINES.md",
        "lead.csv",
        "schema.yaml",
    ]
    # Refused before the sample is drawn: no sample record is left behind either.
    assert stance("export", "--to", "prodigy", "--sample", "2", "--out", "labels/q.jsonl") == 2
    assert not (project / "labels" / "samples").exists()

    # Elsewhere, a file that is no earlier export needs --force; an earlier export does not.
    notes = project / "notes.jsonl"
    notes.write_text('{"text": "my notes"}\n', encoding="utf-8")
    capsys.readouterr()
    assert stance("export", "--to", "doccano", "--out", "notes.jsonl") == 2
    err = capsys.readouterr().err
    assert f"{Path('notes.jsonl')} exists and is not a file written by `stance export --to " in err
    assert "add --force to replace it" in err
    assert notes.read_text(encoding="utf-8") == '{"text": "my notes"}\n'
    assert not (project / "notes.labels.json").exists()
    assert stance("export", "--to", "doccano", "--out", "notes.jsonl", "--force") == 0
    assert len(read_jsonl(notes)) == len(sentences)
    assert stance("export", "--to", "doccano", "--out", "notes.jsonl") == 0  # its own output

    # A file written beside the tasks file follows the same rule.
    (project / "q.labels.json").write_text('{"mine": 1}\n', encoding="utf-8")
    assert stance("export", "--to", "doccano", "--out", "q.jsonl") == 2
    assert not (project / "q.jsonl").exists()
    assert (project / "q.labels.json").read_text(encoding="utf-8") == '{"mine": 1}\n'


@pytest.mark.parametrize("tool", TOOL_NAMES)
def test_export_out_replaces_its_own_tasks_but_never_the_tools_export(project: Path, tool: str):
    """Re-exporting replaces the tasks written before; the tool's export of those tasks, which
    holds the annotations, is never taken for them."""
    out = "t.json" if tool == "label-studio" else "t.jsonl"
    assert stance("export", "--to", tool, "--out", out) == 0
    assert stance("export", "--to", tool, "--out", out, "--unlabeled") == 0
    if tool == "label-studio":
        tasks = json.loads((project / out).read_text(encoding="utf-8"))
        answered = [ls_annotated(tasks[0], 0, ls_result(SPEAKERS[0], STANCES[0]))]
        (project / out).write_text(json.dumps(answered), encoding="utf-8")
    else:
        line = read_jsonl(project / out)[0]
        answer = {"id": 1, "label": [f"stance:{STANCES[0]}"]}
        if tool == "prodigy":
            answer = {"_input_hash": 1, "answer": "accept", "accept": [f"stance:{STANCES[0]}"]}
        write_jsonl(project / out, [{**line, **answer}])
    before = (project / out).read_bytes()
    assert stance("export", "--to", tool, "--out", out) == 2
    assert (project / out).read_bytes() == before


def test_export_out_a_folder_or_under_a_file_is_a_message(project: Path, capsys):
    assert stance("export", "--to", "label-studio", "--out", "results") == 2
    err = capsys.readouterr().err
    assert err.startswith("error: results is a folder, not a file; nothing was written")
    assert "Traceback" not in err
    (project / "afile").write_text("x", encoding="utf-8")
    assert stance("export", "--to", "doccano", "--out", "afile/t.jsonl") == 2
    assert "afile is a file, not a folder; nothing was written" in capsys.readouterr().err
    assert (project / "afile").read_text(encoding="utf-8") == "x"
    assert stance("export", "--to", "doccano", "--out", "new/folder/t.jsonl") == 0


def _labels_for_dataset(project: Path) -> None:
    sentences = make_sentences(CORPUS)
    ids, texts = list(sentences["sentence_id"]), list(sentences["text"])
    write_csv(
        project / "labels" / "sam.csv",
        [[ids[i], texts[i], SPEAKERS[i % 3], STANCES[i % 3], "sam", ""] for i in range(4)],
    )


def test_dataset_export_replaces_only_its_own_files(project: Path, tmp_path: Path, capsys):
    _labels_for_dataset(project)
    hf = project / "hf"
    assert stance("export", "--dataset", "hf") == 0
    manifest = json.loads((hf / ".stance-export.json").read_text(encoding="utf-8"))
    assert "README.md" in manifest["files"] and "data/train.parquet" in manifest["files"]
    # The folder becomes a repository with a license; exporting again keeps both.
    (hf / ".git").mkdir()
    (hf / ".git" / "config").write_text("[core]\n", encoding="utf-8")
    (hf / "LICENSE").write_text("CC BY 4.0\n", encoding="utf-8")
    (hf / "data" / "extra.txt").write_text("mine\n", encoding="utf-8")
    (project / "labels" / "GUIDELINES.md").unlink()  # written before, not now: removed
    (hf / "README.md").write_text("stale", encoding="utf-8")
    assert stance("export", "--dataset", "hf") == 0
    assert (hf / ".git" / "config").read_text(encoding="utf-8") == "[core]\n"
    assert (hf / "LICENSE").read_text(encoding="utf-8") == "CC BY 4.0\n"
    assert (hf / "data" / "extra.txt").read_text(encoding="utf-8") == "mine\n"
    assert not (hf / "GUIDELINES.md").exists()
    assert (hf / "README.md").read_text(encoding="utf-8").startswith("---\nlicense: other")
    manifest = json.loads((hf / ".stance-export.json").read_text(encoding="utf-8"))
    assert "GUIDELINES.md" not in manifest["files"] and "LICENSE" not in manifest["files"]
    assert not [p.name for p in project.iterdir() if p.name.startswith(".hf")]  # no leftovers

    os.environ["HF_DATASETS_OFFLINE"] = "1"
    import datasets

    labeled = datasets.load_dataset(str(hf), split="train", cache_dir=str(tmp_path / "cache"))
    assert labeled.num_rows == 4

    # An export from before manifests (its card says so) is recognised the same way.
    (hf / ".stance-export.json").unlink()
    assert stance("export", "--dataset", "hf") == 0
    assert (hf / "LICENSE").read_text(encoding="utf-8") == "CC BY 4.0\n"
    assert (hf / ".stance-export.json").is_file()


def test_dataset_export_to_a_folder_of_other_files(project: Path, capsys):
    _labels_for_dataset(project)
    repo = project / "repo"
    repo.mkdir()
    (repo / "LICENSE").write_text("mine\n", encoding="utf-8")
    assert stance("export", "--dataset", "repo") == 2
    err = capsys.readouterr().err
    assert "repo exists and is not a data set written by `stance export --dataset`" in err
    assert "add --force" in err
    assert sorted(p.name for p in repo.iterdir()) == ["LICENSE"]
    assert stance("export", "--dataset", "repo", "--force") == 0
    assert (repo / "LICENSE").read_text(encoding="utf-8") == "mine\n"
    assert (repo / "data" / "train.parquet").is_file()

    # A file of its own where the export writes one: refused even with --force.
    other = project / "other"
    other.mkdir()
    (other / "README.md").write_text("# my project\n", encoding="utf-8")
    capsys.readouterr()
    assert stance("export", "--dataset", "other", "--force") == 2
    assert "other: README.md already there and not written by" in capsys.readouterr().err
    assert sorted(p.name for p in other.iterdir()) == ["README.md"]
    assert (other / "README.md").read_text(encoding="utf-8") == "# my project\n"

    # Never into the labels, articles or configuration folder.
    for folder in ("labels", "labels/hf", "config"):
        assert stance("export", "--dataset", folder, "--force") == 2
        assert "never writes to" in capsys.readouterr().err
    assert not (project / "labels" / "hf").exists()
    assert not (project / "labels" / "README.md").exists()


# --------------------------------------------------------------------------- reading exports


def test_completed_by_matches_a_numeric_id_or_an_email(project: Path, capsys):
    """Export > JSON names the user by numeric id, an API snapshot by an object with the id and
    the email: --completed-by takes either; a user the file does not hold writes nothing."""
    assert stance("export", "--to", "label-studio") == 0
    tasks = json.loads((project / "results/label-studio/tasks.json").read_text())
    bea = {"id": 8, "email": "Bea@Example.org", "first_name": "Bea"}
    export = [
        ls_annotated(tasks[0], 0, ls_result(SPEAKERS[0], STANCES[0]), completed_by=7),
        ls_annotated(tasks[1], 1, ls_result(SPEAKERS[1], STANCES[1]), completed_by=bea),
    ]
    source = project / "export.json"
    source.write_text(json.dumps(export), encoding="utf-8")
    args = ["import", str(source), "--from", "label-studio"]
    sid0, sid1 = tasks[0]["data"]["sentence_id"], tasks[1]["data"]["sentence_id"]

    # An email the file does not hold (Export > JSON has none): nothing written, the users named.
    capsys.readouterr()
    assert stance(*args, "--annotator", "jo", "--completed-by", "jo@example.org") == 2
    err = capsys.readouterr().err
    assert f"{source}: no annotation by 'jo@example.org' (--completed-by)" in err
    assert "its annotations are by 7, 8 (Bea@Example.org)" in err
    assert not (project / "labels" / "jo.csv").exists()
    # ... so the right import afterwards is not refused.
    assert stance(*args, "--annotator", "jo", "--completed-by", "7") == 0
    assert [r["sentence_id"] for r in read_rows(project / "labels" / "jo.csv")] == [sid0]
    assert stance(*args, "--annotator", "bea", "--completed-by", "bea@example.org") == 0
    assert [r["sentence_id"] for r in read_rows(project / "labels" / "bea.csv")] == [sid1]
    assert stance(*args, "--annotator", "bee", "--completed-by", "8") == 0  # the object's id
    assert [r["sentence_id"] for r in read_rows(project / "labels" / "bee.csv")] == [sid1]


def test_an_export_without_labels_writes_no_label_file(project: Path, capsys):
    assert stance("export", "--to", "label-studio") == 0
    tasks = json.loads((project / "results/label-studio/tasks.json").read_text())
    export = [{**ls_annotated(t, i, []), "annotations": []} for i, t in enumerate(tasks[:2])]
    source = project / "export.json"
    source.write_text(json.dumps(export), encoding="utf-8")
    capsys.readouterr()
    assert stance("import", str(source), "--from", "label-studio", "--annotator", "jane") == 2
    err = capsys.readouterr().err
    assert f"{source}: no label to import (2 item(s) without a label, e.g. {source} item 1" in err
    assert not (project / "labels" / "jane.csv").exists()


def test_sentence_id_of_another_article_is_refused(project: Path, capsys):
    assert stance("export", "--to", "label-studio") == 0
    tasks = json.loads((project / "results/label-studio/tasks.json").read_text())
    moved = json.loads(json.dumps(tasks[0]))
    sid = moved["data"]["sentence_id"]
    assert sid.startswith("a1:")
    moved["data"]["article_id"] = "a2"
    export = [
        ls_annotated(tasks[1], 0, ls_result(SPEAKERS[0], STANCES[0])),
        ls_annotated(moved, 1, ls_result(SPEAKERS[0], STANCES[0])),
    ]
    source = project / "export.json"
    source.write_text(json.dumps(export), encoding="utf-8")
    capsys.readouterr()
    assert stance("import", str(source), "--from", "label-studio", "--annotator", "jane") == 2
    err = capsys.readouterr().err
    assert (
        f"{source} item 2 (task id 101): sentence_id {sid!r} is a sentence of article 'a1', "
        "but the item's article_id is 'a2'"
    ) in err
    assert not (project / "labels" / "jane.csv").exists()


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda a: a.update(result=5), "'result' is 5, not a list"),
        (
            lambda a: a["result"][0]["value"].update(choices=3),
            "the choices of speaker are 3, not a list of values",
        ),
        (
            lambda a: a["result"][2]["value"].update(text=42),
            "the note is 42, not a text or a list of texts",
        ),
        (
            lambda a: a["result"][2]["value"].update(text=["\ud800 odd"]),
            "the note holds a lone surrogate (U+D800) at character 1",
        ),
    ],
)
def test_malformed_label_studio_values_are_messages(project: Path, capsys, change, expected):
    assert stance("export", "--to", "label-studio") == 0
    tasks = json.loads((project / "results/label-studio/tasks.json").read_text())
    item = ls_annotated(tasks[0], 0, ls_result(SPEAKERS[0], STANCES[0], note="a note"))
    change(item["annotations"][0])
    source = project / "export.json"
    source.write_text(json.dumps([item]), encoding="utf-8")
    capsys.readouterr()
    assert stance("import", str(source), "--from", "label-studio", "--annotator", "jane") == 2
    err = capsys.readouterr().err
    assert f"{source} item 1 (task id 100): {expected}" in err and "Traceback" not in err
    assert not (project / "labels" / "jane.csv").exists()


def test_lone_surrogate_and_deep_nesting_are_messages(project: Path, capsys):
    sentences = make_sentences(CORPUS)
    line = {"text": sentences["text"][0] + "\ud800", "label": [f"stance:{STANCES[0]}"]}
    source = project / "admin.jsonl"
    source.write_text(json.dumps(line) + "\n", encoding="utf-8")  # the escape "\ud800"
    assert stance("import", str(source), "--from", "doccano", "--annotator", "sam") == 2
    err = capsys.readouterr().err
    assert f"{source} line 1: the text holds a lone surrogate (U+D800)" in err
    assert not (project / "labels" / "sam.csv").exists()

    deep = "[" * 100_000 + "]" * 100_000
    source = project / "deep.json"
    source.write_text(deep, encoding="utf-8")
    assert stance("import", str(source), "--from", "label-studio", "--annotator", "jane") == 2
    assert f"{source}: JSON nested too deeply" in capsys.readouterr().err
    source = project / "deep.jsonl"
    source.write_text('{"text": "x"}\n' + deep + "\n", encoding="utf-8")
    assert stance("import", str(source), "--from", "prodigy", "--annotator", "kim") == 2
    assert f"{source} line 2: JSON nested too deeply" in capsys.readouterr().err
    assert not any((project / "labels").glob("*.csv"))


@pytest.mark.parametrize("tool", ["doccano", "prodigy"])
def test_jsonl_round_trip_of_a_sentence_with_a_line_separator(project: Path, tool: str):
    """A raw U+2028 or U+0085 inside a JSON string does not end a JSON Lines line."""
    corpus = {**CORPUS, "a4": ["Kabul\u2028said no.", "Envoys met\u0085again in Doha."]}
    sentences = make_sentences(corpus)
    sentences.to_parquet(project / "results" / "sentences.parquet")
    assert stance("export", "--to", tool, "--out", "t.jsonl") == 0
    raw = (project / "t.jsonl").read_text(encoding="utf-8")
    assert "\u2028" in raw and "\u0085" in raw  # written raw, as json.dumps(ensure_ascii=False)
    answers, answered = [], {}
    for i, task in enumerate(read_jsonl(project / "t.jsonl")):
        speaker, value = label_for(i)
        chosen = [f"speaker:{speaker}", f"stance:{value}"]
        if tool == "doccano":
            answers.append({"id": i, **task, "label": chosen})
            answered[task["sentence_id"]] = (speaker, value)
        else:
            answers.append({**task, "answer": "accept", "accept": chosen})
            answered[task["meta"]["sentence_id"]] = (speaker, value)
    source = project / "answers.jsonl"
    source.write_text(
        "".join(json.dumps(a, ensure_ascii=False) + "\n" for a in answers), encoding="utf-8"
    )
    assert stance("import", str(source), "--from", tool, "--annotator", "kim") == 0
    rows = read_rows(project / "labels" / "kim.csv")
    assert {r["sentence_id"]: (r["speaker"], r["stance"]) for r in rows} == answered
    texts = dict(zip(sentences["sentence_id"], sentences["text"], strict=True))
    assert all(r["text"] == texts[r["sentence_id"]] for r in rows)
    assert {"Kabul\u2028said no.", "Envoys met\u0085again in Doha."} <= {r["text"] for r in rows}


def test_json_min_export_is_refused_once(project: Path, capsys):
    sentences = make_sentences(CORPUS)
    items = [
        {"id": i, "text": t, "speaker": SPEAKERS[0], "stance": STANCES[0], "annotator": 1}
        for i, t in enumerate(sentences["text"][:3])
    ]
    source = project / "min.json"
    source.write_text(json.dumps(items), encoding="utf-8")
    assert stance("import", str(source), "--from", "label-studio", "--annotator", "jane") == 2
    err = capsys.readouterr().err
    assert err.startswith("error: 1 problem(s) importing")
    assert f"{source}: none of its 3 item(s) has a 'data' object" in err
    assert err.count("'data'") == 1


def test_a_sample_larger_than_the_queue_or_a_negative_seed_is_refused(
    project: Path, capsys: pytest.CaptureFixture
):
    n = len(make_sentences(CORPUS))
    assert stance("export", "--to", "doccano", "--sample", str(n + 1), "--seed", "1") == 2
    err = capsys.readouterr().err
    assert f"the queue has only {n} sentence(s) nobody has labeled; ask for at most {n}" in err
    assert not (project / "labels" / "samples").exists() or not list(
        (project / "labels" / "samples").iterdir()
    )
    with pytest.raises(SystemExit) as exit_info:
        stance("export", "--to", "doccano", "--sample", "3", "--seed", "-1")
    assert exit_info.value.code == 2
    assert "must be a whole number from 0 to 2**32 - 1, not -1" in capsys.readouterr().err
