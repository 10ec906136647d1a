"""The label scheme and label files: loading, validation messages and final-label rules."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pandas as pd
import pytest
import yaml
from helpers import ARTICLES, HEADER, SCHEMA, make_sentences, row, sid, write_csv

from stance.corpus.splitting import sentence_id
from stance.errors import StanceError
from stance.labels.files import label_files, load_labels, read_label_file
from stance.labels.resolution import resolve_labels
from stance.labels.schema import load_schema

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def schema():
    return load_schema(SCHEMA)


@pytest.fixture
def sentences() -> pd.DataFrame:
    return make_sentences()


def problems_of(labels_dir: Path, sentences: pd.DataFrame, schema) -> str:
    with pytest.raises(StanceError) as info:
        load_labels(labels_dir, sentences, schema)
    return str(info.value)


# --- the schema ---------------------------------------------------------------------------


def test_schema_fields_and_values_in_file_order(schema):
    assert schema.field_names == ["speaker", "stance"]
    assert schema.values("speaker") == [
        "taliban",
        "us_government",
        "nato",
        "afghan_government",
        "russia",
        "other",
        "author",
    ]
    assert schema.values("stance") == ["favor", "against", "none"]
    assert [v.key for v in schema.field("stance").values] == ["f", "x", "0"]
    assert schema.required_columns == ("sentence_id", "text", "speaker", "stance", "annotator")
    assert schema.optional_columns == ("note",)


def _schema_copy(tmp_path: Path, edit) -> Path:
    data = yaml.safe_load(SCHEMA.read_text(encoding="utf-8"))
    edit(data)
    path = tmp_path / "schema.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda d: d.pop("fields"), "(top level): 'fields' is a required property"),
        (
            lambda d: d["fields"]["speaker"].pop("values"),
            "fields.speaker: 'values' is a required property",
        ),
        (
            lambda d: d["fields"]["stance"].update(values=[]),
            "fields.stance.values: [] should be non-empty",
        ),
        (
            lambda d: d["fields"]["stance"]["values"].append(
                {"name": "favor", "key": "q", "description": ""}
            ),
            "fields.stance: value 'favor' is listed 2 times",
        ),
        (
            lambda d: d["fields"]["stance"]["values"][2].update(key=0),
            "fields.stance.values.2.key: 0 is not of type 'string' (write a single character",
        ),
        (
            lambda d: d["fields"]["speaker"]["values"][1].update(key="t"),
            "fields.speaker: key 't' is used 2 times",
        ),
        (lambda d: d["columns"]["required"].remove("stance"), "columns.required: must list"),
        (lambda d: d.pop("columns"), "(top level): 'columns' is a required property"),
    ],
)
def test_malformed_schema_is_named(tmp_path: Path, edit, expected: str):
    path = _schema_copy(tmp_path, edit)
    with pytest.raises(StanceError) as info:
        load_schema(path)
    message = str(info.value)
    assert message.startswith(f"{path}: the label schema is malformed")
    assert expected in message


def test_schema_that_is_not_a_mapping(tmp_path: Path):
    path = tmp_path / "schema.yaml"
    path.write_text("- just a list\n", encoding="utf-8")
    with pytest.raises(StanceError, match=re.escape(f"{path}: the label schema must be")):
        load_schema(path)


def test_a_speaker_added_to_the_schema_is_accepted(tmp_path: Path, sentences):
    path = _schema_copy(
        tmp_path,
        lambda d: d["fields"]["speaker"]["values"].insert(
            5, {"name": "united_nations", "key": "v", "description": "the UN"}
        ),
    )
    schema = load_schema(path)
    assert schema.values("speaker")[5] == "united_nations"
    write_csv(tmp_path / "labels" / "a.csv", [row("a1", 2, "united_nations", "none", "ann")])
    label_set = load_labels(tmp_path / "labels", sentences, schema)
    assert label_set.labels["speaker"].tolist() == ["united_nations"]


# --- reading and validating label files ---------------------------------------------------


def test_valid_labels_are_read_with_file_and_row(tmp_path: Path, sentences, schema):
    write_csv(tmp_path / "a.csv", [row("a1", 0, "taliban", "favor", "ann")])
    write_csv(
        tmp_path / "b.csv",
        [row("a1", 0, "taliban", "favor", "bob"), row("a2", 1, "afghan_government", "none", "bob")],
    )
    label_set = load_labels(tmp_path, sentences, schema)
    table = label_set.labels
    assert table["file"].tolist() == [str(tmp_path / n) for n in ("a.csv", "b.csv", "b.csv")]
    assert table["row"].tolist() == [2, 2, 3]
    assert label_set.annotators == ["ann", "bob"]
    assert label_set.adjudication.empty


def test_label_files_skip_the_adjudication_file(tmp_path: Path):
    for name in ("b.csv", "a.csv", "adjudication.csv", "notes.txt"):
        (tmp_path / name).write_text("x\n", encoding="utf-8")
    assert [p.name for p in label_files(tmp_path)] == ["a.csv", "b.csv"]


def test_missing_label_folder(tmp_path: Path, sentences, schema):
    with pytest.raises(StanceError, match="label folder not found"):
        load_labels(tmp_path / "nowhere", sentences, schema)


def test_missing_columns_are_named_with_the_header_row(tmp_path: Path, sentences, schema):
    path = write_csv(
        tmp_path / "a.csv",
        [["x", "t", "taliban", "ann"]],
        header=["sentence_id", "text", "speaker", "annotator"],
    )
    message = problems_of(tmp_path, sentences, schema)
    assert f"{path} row 1: missing column(s) 'stance'" in message
    assert "the header must have: sentence_id, text, speaker, stance, annotator" in message


def test_empty_file_has_no_header(tmp_path: Path, sentences, schema):
    path = tmp_path / "a.csv"
    path.write_text("", encoding="utf-8")
    assert f"{path} row 1: no header row" in problems_of(tmp_path, sentences, schema)


def test_unknown_values_list_the_allowed_ones(tmp_path: Path, sentences, schema):
    path = write_csv(
        tmp_path / "a.csv",
        [
            row("a1", 0, "taliban", "favor", "ann"),
            row("a1", 1, "pentagon", "f", "ann"),
            row("a1", 2, "nato", "", "ann"),
        ],
    )
    message = problems_of(tmp_path, sentences, schema)
    assert (
        f"{path} row 3: speaker 'pentagon' is not an allowed value; use one of: taliban, "
        "us_government, nato, afghan_government, russia, other, author" in message
    )
    assert f"{path} row 3: stance 'f' is not an allowed value (did you mean 'favor'?)" in message
    assert f"{path} row 4: stance is empty; use one of: favor, against, none" in message
    assert message.startswith("3 problem(s) in the label files")


def test_orphan_id_names_the_new_id_of_the_same_text(tmp_path: Path, sentences, schema):
    text = ARTICLES["a1"][1]
    old_id = sentence_id("a1", text, occurrence=2)  # numbering changed since labeling
    path = write_csv(tmp_path / "a.csv", [[old_id, text, "us_government", "against", "ann", ""]])
    message = problems_of(tmp_path, sentences, schema)
    assert f"{path} row 2: sentence_id '{old_id}' is not in results/sentences.parquet" in message
    assert "orphan" in message
    assert f"the same text is now sentence '{sentence_id('a1', text)}'" in message


def test_orphan_without_its_text_says_to_find_the_sentence(tmp_path: Path, sentences, schema):
    gone = "The Taliban urged a withdrawal."
    path = write_csv(
        tmp_path / "a.csv",
        [
            [sentence_id("a1", gone), gone, "taliban", "favor", "ann", ""],
            [sentence_id("a9", gone), gone, "taliban", "favor", "ann", ""],
        ],
    )
    message = problems_of(tmp_path, sentences, schema)
    assert f"{path} row 2: sentence_id '{sentence_id('a1', gone)}' is not in" in message
    assert "no sentence of article 'a1' has this text now: find the sentence by its text" in message
    assert f"{path} row 3:" in message and "article 'a9' has no sentences any more" in message


def test_changed_text_is_reported_and_normalised_text_is_not(tmp_path: Path, sentences, schema):
    same = "  “We will not  leave,”   the general said. "  # other spaces and quotes
    path = write_csv(
        tmp_path / "a.csv",
        [
            [sid("a1", 3), "Talks collapsed in Doha.", "author", "none", "ann", ""],
            [sid("a2", 2), same, "us_government", "against", "ann", ""],
        ],
    )
    message = problems_of(tmp_path, sentences, schema)
    assert (
        f"{path} row 2: text no longer matches sentence '{sid('a1', 3)}': they differ from "
        "character 7 on: labeled 'Talks collapsed in Doha.', now 'Talks resumed in Doha.'"
        in message
    )
    assert "row 3" not in message
    assert message.startswith("1 problem(s)")


def test_empty_text_and_empty_annotator(tmp_path: Path, sentences, schema):
    path = write_csv(
        tmp_path / "a.csv",
        [
            [sid("a1", 0), "", "taliban", "favor", "ann", ""],
            [sid("a1", 1), ARTICLES["a1"][1], "us_government", "against", " ", ""],
        ],
    )
    message = problems_of(tmp_path, sentences, schema)
    assert f"{path} row 2: text is empty; copy the text of sentence" in message
    assert f"{path} row 3: annotator is empty; fill in the name" in message


def test_exact_duplicate_rows_across_files(tmp_path: Path, sentences, schema):
    first = write_csv(tmp_path / "a.csv", [row("a1", 0, "taliban", "favor", "ann")])
    second = write_csv(
        tmp_path / "b.csv",
        [row("a1", 1, "us_government", "against", "ann"), row("a1", 0, "taliban", "favor", "ann")],
    )
    message = problems_of(tmp_path, sentences, schema)
    assert f"{second} row 3: an exact duplicate of {first} row 2" in message
    assert "delete one of the two rows" in message


def test_same_label_twice_with_another_note_is_a_repeat(tmp_path: Path, sentences, schema):
    noted = [*row("a1", 0, "taliban", "favor", "ann")[:5], "second look"]
    path = write_csv(tmp_path / "a.csv", [row("a1", 0, "taliban", "favor", "ann"), noted])
    message = problems_of(tmp_path, sentences, schema)
    assert f"{path} row 3: a repeat (same labels) of {path} row 2 (annotator 'ann', sentence" in (
        message
    )


def test_two_labels_from_one_annotator(tmp_path: Path, sentences, schema):
    path = write_csv(
        tmp_path / "a.csv",
        [
            row("a1", 0, "taliban", "favor", "ann"),
            row("a1", 0, "taliban", "none", "ann"),
            row("a1", 0, "taliban", "none", "bob"),
        ],
    )
    message = problems_of(tmp_path, sentences, schema)
    assert f"{path} row 2: annotator 'ann' gave sentence '{sid('a1', 0)}' 2 different labels" in (
        message
    )
    assert f"{path} row 2: speaker=taliban, stance=favor; {path} row 3: speaker=taliban" in message
    assert "bob" not in message


def test_blank_lines_keep_row_numbers_and_extra_cells_are_reported(
    tmp_path: Path, sentences, schema
):
    path = tmp_path / "a.csv"
    good = ",".join(f'"{c}"' for c in row("a1", 0, "taliban", "favor", "ann"))
    bad = ",".join(f'"{c}"' for c in row("a1", 1, "nobody", "favor", "ann"))
    extra = ",".join(f'"{c}"' for c in row("a1", 2, "nato", "none", "ann")) + ",oops"
    path.write_text(",".join(HEADER) + f"\n{good}\n\n{bad}\n{extra}\n", encoding="utf-8")
    message = problems_of(tmp_path, sentences, schema)
    assert f"{path} row 4: speaker 'nobody'" in message
    assert f"{path} row 5: 7 cells but the header has 6" in message


def test_excel_export_with_bom_spaces_and_missing_note_column(tmp_path: Path, sentences, schema):
    path = tmp_path / "a.csv"
    cells = row("a1", 0, " taliban ", "favor ", "ann")[:5]
    with open(path, "w", newline="", encoding="utf-8-sig") as fh:
        csv.writer(fh).writerows([HEADER[:5], cells])
    label_set = load_labels(tmp_path, sentences, schema)
    assert label_set.labels[["speaker", "stance", "note"]].values.tolist() == [
        ["taliban", "favor", ""]
    ]


def test_all_problems_are_collected_and_capped(tmp_path: Path, sentences, schema):
    rows = [row("a1", 0, f"who{i}", "favor", f"ann{i}") for i in range(60)]
    write_csv(tmp_path / "a.csv", rows)
    write_csv(tmp_path / "b.csv", [row("a1", 1, "nato", "maybe", "bob")])
    message = problems_of(tmp_path, sentences, schema)
    assert message.startswith("61 problem(s) in the label files; no label is dropped")
    assert message.count("is not an allowed value") == 50
    assert message.rstrip().endswith("... and 11 more problem(s)")


def test_read_label_file_reports_instead_of_raising(tmp_path: Path):
    path = tmp_path / "a.csv"
    path.write_bytes(b"sentence_id,text\n\xff\xfe,x\n")
    table, problems, _ = read_label_file(path, ["sentence_id", "text"])
    assert table is None and "is not valid UTF-8" in problems[0]


def test_unknown_columns_are_a_warning(tmp_path: Path, sentences, schema):
    write_csv(
        tmp_path / "a.csv",
        [[*row("a1", 0, "taliban", "favor", "ann"), "x"]],
        header=[*HEADER, "comment"],
    )
    label_set = load_labels(tmp_path, sentences, schema)
    assert any("comment" in w and "ignored" in w for w in label_set.warnings)


# --- adjudication ---------------------------------------------------------------------------


def test_adjudication_file_is_validated_the_same_way(tmp_path: Path, sentences, schema):
    write_csv(tmp_path / "a.csv", [row("a1", 0, "taliban", "favor", "ann")])
    path = write_csv(
        tmp_path / "adjudication.csv",
        [
            [sid("a1", 0), "taliban", "maybe", ""],
            [sid("a1", 1), "us_government", "none", ""],
            [sid("a1", 1), "us_government", "against", ""],
            ["a1:000000000000", "nato", "none", ""],
        ],
        header=["sentence_id", "speaker", "stance", "note"],
    )
    message = problems_of(tmp_path, sentences, schema)
    assert f"{path} row 2: stance 'maybe' is not an allowed value" in message
    assert f"{path} row 3: gave sentence '{sid('a1', 1)}' 2 different labels" in message
    assert f"{path} row 5: sentence_id 'a1:000000000000' is not in" in message
    assert "annotator is empty" not in message


def test_adjudication_text_is_optional_but_checked(tmp_path: Path, sentences, schema):
    path = write_csv(
        tmp_path / "adjudication.csv",
        [[sid("a1", 0), "taliban", "favor", ""], [sid("a1", 1), "nato", "none", "Wrong text."]],
        header=["sentence_id", "speaker", "stance", "text"],
    )
    message = problems_of(tmp_path, sentences, schema)
    assert f"{path} row 3: text no longer matches" in message
    assert "row 2" not in message


def test_explicit_adjudication_file_must_exist(tmp_path: Path, sentences, schema):
    with pytest.raises(StanceError, match="adjudication file not found"):
        load_labels(tmp_path, sentences, schema, adjudication=tmp_path / "adj.csv")


# --- final labels -------------------------------------------------------------------------


def _resolve(tmp_path: Path, sentences, schema, rows, priority=(), adjudication=None):
    write_csv(tmp_path / "labels.csv", rows)
    if adjudication:
        write_csv(
            tmp_path / "adjudication.csv",
            adjudication,
            header=["sentence_id", "speaker", "stance"],
        )
    label_set = load_labels(tmp_path, sentences, schema)
    resolution = resolve_labels(label_set, schema, priority)
    return resolution.final.set_index("sentence_id"), resolution.ties


def test_single_annotator_and_majority_per_field(tmp_path: Path, sentences, schema):
    final, ties = _resolve(
        tmp_path,
        sentences,
        schema,
        [
            row("a1", 0, "taliban", "favor", "ann"),
            row("a1", 1, "us_government", "against", "ann"),
            row("a1", 1, "us_government", "none", "bob"),
            row("a1", 1, "other", "against", "cat"),
        ],
    )
    assert final.loc[sid("a1", 0), ["speaker", "stance", "resolution"]].tolist() == [
        "taliban",
        "favor",
        "single",
    ]
    assert final.loc[sid("a1", 1), ["speaker", "stance", "resolution"]].tolist() == [
        "us_government",
        "against",
        "majority",
    ]
    assert final.loc[sid("a1", 1), "n_annotators"] == 3
    assert ties == []


def test_tie_goes_to_the_alphabetically_first_annotator(tmp_path: Path, sentences, schema):
    final, ties = _resolve(
        tmp_path,
        sentences,
        schema,
        [row("a2", 0, "russia", "favor", "zoe"), row("a2", 0, "russia", "none", "bob")],
    )
    assert final.loc[sid("a2", 0), ["speaker", "stance", "resolution"]].tolist() == [
        "russia",
        "none",
        "tie",
    ]
    assert len(ties) == 1
    tie = ties[0]
    assert (tie.sentence_id, tie.field, tie.chosen, tie.chosen_annotator) == (
        sid("a2", 0),
        "stance",
        "none",
        "bob",
    )
    assert tie.votes == {"favor": ["zoe"], "none": ["bob"]}


def test_tie_goes_to_the_priority_annotator_among_the_tied_values(
    tmp_path: Path, sentences, schema
):
    rows = [
        row("a2", 0, "russia", "favor", "ann"),
        row("a2", 0, "russia", "favor", "bob"),
        row("a2", 0, "russia", "none", "cat"),
        row("a2", 0, "russia", "none", "dan"),
        # eve has priority but gave neither tied value: she cannot break the tie.
        row("a2", 0, "russia", "against", "eve"),
    ]
    final, ties = _resolve(tmp_path, sentences, schema, rows, priority=["eve", "dan"])
    assert final.loc[sid("a2", 0), "stance"] == "none"
    assert ties[0].chosen_annotator == "dan"
    assert ties[0].votes == {"favor": ["ann", "bob"], "against": ["eve"], "none": ["dan", "cat"]}


def test_adjudication_decides_even_against_the_majority(tmp_path: Path, sentences, schema):
    final, ties = _resolve(
        tmp_path,
        sentences,
        schema,
        [
            row("a2", 0, "russia", "favor", "ann"),
            row("a2", 0, "russia", "none", "bob"),
            row("a1", 3, "author", "none", "ann"),
            row("a1", 3, "author", "none", "bob"),
        ],
        adjudication=[
            [sid("a1", 3), "other", "against"],
            [sid("a2", 0), "russia", "favor"],
            [sid("a2", 1), "afghan_government", "none"],
        ],
    )
    assert final.loc[sid("a1", 3), ["speaker", "stance", "resolution"]].tolist() == [
        "other",
        "against",
        "adjudicated",
    ]
    assert final.loc[sid("a2", 0), "stance"] == "favor"
    # An adjudicated sentence without hand labels still gets its label.
    assert final.loc[sid("a2", 1), ["speaker", "n_annotators"]].tolist() == ["afghan_government", 0]
    assert ties == []  # adjudicated ties need no further attention


MADE_UP_SCHEMA = {
    "target": "a made-up topic",
    "fields": {
        "speaker": {"description": "who speaks", "values": [
            {"name": "mayor", "key": "m", "description": "the mayor and the city hall"},
            {"name": "council", "key": "c", "description": "the city council"},
            {"name": "author", "key": "a", "description": "narration"},
        ]},
        "stance": {"description": "on the new bridge", "values": [
            {"name": "for", "key": "f"}, {"name": "against", "key": "x"},
        ]},
    },
    "columns": {"required": ["sentence_id", "text", "speaker", "stance", "annotator"]},
}  # fmt: skip


def test_check_names_each_schema_value_the_guidelines_miss(tmp_path: Path, monkeypatch, capsys):
    import shutil

    from stance.cli.main import main

    for item in ("config", "workflow/schemas"):
        shutil.copytree(ROOT / item, tmp_path / item)
    (tmp_path / "labels").mkdir()
    (tmp_path / "labels/schema.yaml").write_text(yaml.safe_dump(MADE_UP_SCHEMA))
    guidelines = tmp_path / "labels/GUIDELINES.md"
    guidelines.write_text(
        "# Guidelines\n\n## `speaker`: who speaks\n\n### `mayor`\nThe mayor.\n\n"
        "### `governor`\nThe governor.\n\n### `author`\nNarration.\n\n"
        "## Decision rules\n\n### `council` in a headline\nNot a value section.\n",
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)
    assert main(["check"]) == 1
    err = capsys.readouterr().err
    assert "labels/GUIDELINES.md:3: speaker value 'council' of labels/schema.yaml has no " in err
    assert "add '### `council`' under '## `speaker`' with its description (the city council)" in err
    assert "labels/GUIDELINES.md:8: '### `governor`' under '## `speaker`' names no speaker" in err
    assert "no section for field 'stance' of labels/schema.yaml; add '## `stance`: on the" in err
    assert "mayor" not in err and "'author'" not in err
    guidelines.write_text(
        guidelines.read_text(encoding="utf-8").replace("governor", "council")
        + "\n## `stance`\n\n### `for`\nFor.\n\n### `against`\nAgainst.\n",
        encoding="utf-8",
    )
    assert main(["check"]) == 0
    assert "describes every value of labels/schema.yaml (speaker: 3, stance: 2)" in (
        capsys.readouterr().out
    )
    guidelines.unlink()
    assert main(["check"]) == 1
    assert "labels/GUIDELINES.md: not found" in capsys.readouterr().err


def test_the_project_guidelines_describe_every_value_of_its_schema():
    from stance.labels.schema import guideline_problems

    assert guideline_problems(load_schema(ROOT / "labels/schema.yaml"),
                              ROOT / "labels/GUIDELINES.md") == []  # fmt: skip
