"""What the Snakefile checks when it is read, before any job: configuration, models, store."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from stance.errors import StanceError
from stance.io import remembered


def _key(*parts: bytes) -> str:
    return hashlib.sha256(b"".join(parts)).hexdigest()


def check_workflow(config: dict, root: Path | str) -> None:
    """Check the resolved configuration, the model entries and a local SQLite store; results
    are remembered under .snakemake/stance/, so a no-op run skips the slow imports and reads."""
    from importlib.metadata import version

    from stance.codehash import code_digest
    from stance.config import validate_config
    from stance.tracking.store import check_store_file

    root = Path(root)
    checked_dir = root / ".snakemake" / "stance"
    schema = root / "workflow/schemas/config.schema.yaml"

    def validated() -> dict:
        where = "the configuration (config/config.yaml with any --configfile and --config)"
        return validate_config(config, where, schema)

    # A configuration and schema seen last time get the completed configuration remembered then.
    config_key = _key(json.dumps(config, sort_keys=True, default=str).encode(), schema.read_bytes())
    completed = remembered(checked_dir / "config-completed.json", config_key, validated)
    if completed is not config:
        config.clear()
        config.update(completed)

    def models_checked() -> bool:
        from stance.training.models import model_specs

        model_specs(config)
        return True

    models_key = _key(
        json.dumps(config["models"], sort_keys=True, default=str).encode(),
        code_digest("training").encode(),
        # the value check is scikit-learn's own: another version checks again
        version("scikit-learn").encode(),
    )
    remembered(checked_dir / "models-checked.json", models_key, models_checked)
    _check_f_avg_classes(config, root, checked_dir)
    check_store_file(config, root, checked_dir)


def _check_f_avg_classes(config: dict, root: Path, checked_dir: Path) -> None:
    """evaluation.f_avg_classes must be stance values of the label schema (a new topic's schema
    with other values otherwise fails only once a model trains)."""
    path = root / config["labels"]["schema"]
    if not path.is_file():
        return  # the label stage says so, with what to do
    classes = config["evaluation"]["f_avg_classes"]

    def checked() -> bool:
        from stance.labels.schema import load_schema

        schema = load_schema(path)
        if "stance" not in schema.field_names:
            return True
        values = schema.field("stance").names
        missing = [c for c in classes if c not in values]
        if missing:
            raise StanceError(
                f"evaluation.f_avg_classes lists {', '.join(missing)}, not a stance value of "
                f"{config['labels']['schema']} ({', '.join(values)}); list there the stance "
                "values whose F1 the f_avg score averages (config/config.yaml)"
            )
        return True

    key = _key(path.read_bytes(), json.dumps(classes).encode())
    remembered(checked_dir / "f-avg-classes-checked.json", key, checked)
