"""Reading YAML files (config/config.yaml, labels/schema.yaml) and the config schema's bounds."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import ROOT

from stance.config import SCHEMA_RELATIVE, load_config, load_yaml, validate_config
from stance.errors import StanceError
from stance.labels.schema import load_schema

SCHEMA = ROOT / SCHEMA_RELATIVE


def project_config_text() -> str:
    return (ROOT / "config" / "config.yaml").read_text(encoding="utf-8")


def write_config(tmp_path: Path, text: str) -> Path:
    # The schema is found next to the config: <project>/workflow/schemas/config.schema.yaml.
    (tmp_path / "workflow" / "schemas").mkdir(parents=True, exist_ok=True)
    (tmp_path / SCHEMA_RELATIVE).write_bytes(SCHEMA.read_bytes())
    (tmp_path / "config").mkdir(exist_ok=True)
    path = tmp_path / "config" / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_yaml_anchors_and_aliases_are_refused_in_the_config_and_the_label_schema(tmp_path: Path):
    text = project_config_text().replace(
        "  n_bootstrap: 1000\n", "  n_bootstrap: &many 1000\n  stratified_n_splits: *many\n"
    )
    path = write_config(tmp_path, text)
    line = text.splitlines().index("  n_bootstrap: &many 1000") + 1
    with pytest.raises(StanceError) as err:
        load_config(path)
    assert str(err.value) == (
        f"{path}: line {line}, column 16: YAML anchor '&many': anchors and aliases are not "
        "allowed in this file; write the value out in full there"
    )
    schema = tmp_path / "schema.yaml"
    schema.write_text(
        (ROOT / "labels" / "schema.yaml").read_text(encoding="utf-8")
        + "extra: [*undefined_alias]\n",
        encoding="utf-8",
    )
    with pytest.raises(StanceError, match=r"schema.yaml: line \d+, column 9: YAML alias"):
        load_schema(schema)


def test_a_config_file_not_in_utf8_names_the_line(tmp_path: Path):
    path = write_config(tmp_path, "")
    # Saved in Latin-1: one "é" is the byte 0xe9, not UTF-8's two bytes.
    text = project_config_text().replace("# Folder", "# Dossier \u00e9", 1)
    path.write_bytes(text.encode("utf-8").replace("\u00e9".encode("utf-8"), b"\xe9", 1))
    with pytest.raises(StanceError, match=r"config.yaml: line 3: byte \d+ \(0xe9\) is not valid "):
        load_config(path)


def test_a_billion_bootstraps_are_refused_with_the_configs_own_message(tmp_path: Path):
    text = project_config_text().replace("  n_bootstrap: 1000\n", "  n_bootstrap: 1000000000\n")
    path = write_config(tmp_path, text)
    with pytest.raises(StanceError) as err:
        load_config(path)
    assert str(err.value) == (
        f"{path}: configuration does not match {SCHEMA_RELATIVE}:\n"
        "  evaluation.n_bootstrap: 1000000000 is greater than the maximum of 100000"
    )


def _set(config: dict, keys: str, value: Any) -> dict:
    changed = copy.deepcopy(config)
    *parents, last = keys.split(".")
    node = changed
    for key in parents:
        node = node.setdefault(key, {})
    node[last] = value
    return changed


@pytest.mark.parametrize(
    "keys, value, message",
    [
        ("evaluation.n_bootstrap", 10**9, "is greater than the maximum of 100000"),
        ("evaluation.cv.n_splits", 10**6, "is greater than the maximum of 1000"),
        ("evaluation.cv.logo_max_groups", 10**6, "is greater than the maximum of 1000"),
        ("evaluation.stratified_n_splits", 10**6, "is greater than the maximum of 1000"),
        ("evaluation.stratified_max_sentences", 10**12, "maximum of 100000000"),
        ("evaluation.learning_curve", [i / 100 for i in range(1, 101)], "is too long"),
        ("evaluation.learning_curve_max_train", 10**12, "maximum of 100000000"),
        ("evaluation.n_jobs", 10**6, "is greater than the maximum of 1024"),
        ("evaluation.fit_memory_mb", 10**12, "is greater than the maximum of 10000000"),
        ("split.shards", 10**6, "is greater than the maximum of 4096"),
        ("speakers.model.max_iter", 10**9, "is greater than the maximum of 1000000"),
        ("speakers.model.word_ngram_range", [1, 1000], "is greater than the maximum of 10"),
        ("seed", 2**32, "is greater than the maximum of 4294967295"),
        ("findings.n_bootstrap", 1000, "Additional properties are not allowed"),
    ],
)
def test_every_count_setting_has_a_maximum(config: dict, keys: str, value: Any, message: str):
    with pytest.raises(StanceError) as err:
        validate_config(_set(config, keys, value), "config/config.yaml", SCHEMA)
    text = str(err.value)
    assert text.startswith("config/config.yaml: configuration does not match")
    where = keys.rsplit(".", 1)[0] if keys == "findings.n_bootstrap" else keys
    assert f"  {where}" in text and message in text


def test_every_integer_and_list_of_the_config_schema_is_bounded():
    unbounded = []

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            types = node.get("type")
            types = types if isinstance(types, list) else [types]
            if "integer" in types and "maximum" not in node:
                unbounded.append(path)
            if "array" in types and path.startswith("evaluation") and "maxItems" not in node:
                unbounded.append(path)
            for key, value in node.items():
                walk(value, f"{path}.{key}" if key not in ("properties", "items") else path)
        elif isinstance(node, list):
            for item in node:
                walk(item, path)

    walk(yaml.safe_load(SCHEMA.read_text(encoding="utf-8"))["properties"], "")
    assert unbounded == []


def test_the_project_yaml_files_load():
    assert load_yaml(ROOT / "config" / "config.yaml")["seed"] >= 0
    assert validate_config(load_yaml(ROOT / "config" / "config.yaml"), "config", SCHEMA)
    assert load_schema(ROOT / "labels" / "schema.yaml").field_names
