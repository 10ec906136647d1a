"""What the Snakefile checks when it is read, before any job: configuration, models, store."""

from __future__ import annotations

import json
from pathlib import Path

from stance.io import remembered


def _validated_config(config: dict, schema: Path, checked_dir: Path, config_file: str) -> None:
    """Validate the resolved configuration and fill in its defaults (in place); a configuration
    and schema seen last time get the completed configuration remembered then."""
    import hashlib

    from stance.config import validate_config

    def validated() -> dict:
        where = f"the configuration ({config_file} with any --configfile and --config)"
        validate_config(config, where, schema)
        return config

    key = hashlib.sha256(
        json.dumps(config, sort_keys=True, default=str).encode("utf-8") + schema.read_bytes()
    ).hexdigest()
    completed = remembered(checked_dir / "config-completed.json", key, validated)
    if completed is not config:
        config.clear()
        config.update(completed)


def check_workflow(config: dict, root: Path | str, config_file: str = "config/config.yaml") -> None:
    """Check the resolved configuration (defaults filled in), the model entries and a local
    SQLite store; each result is remembered under .snakemake/stance/ for the same inputs, so a
    no-op run skips the slow imports and reads."""
    import hashlib

    from stance.codehash import code_digest
    from stance.tracking.store import check_store_file

    root = Path(root)
    checked_dir = root / ".snakemake" / "stance"
    _validated_config(
        config, root / "workflow/schemas/config.schema.yaml", checked_dir, config_file
    )
    from importlib.metadata import version

    key = hashlib.sha256(
        json.dumps(config["models"], sort_keys=True, default=str).encode("utf-8")
        + code_digest("training").encode("ascii")
        # the value check is scikit-learn's own: another version checks again
        + version("scikit-learn").encode("ascii")
    ).hexdigest()

    def models_checked() -> bool:
        from stance.training.models import model_specs

        model_specs(config)
        return True

    remembered(checked_dir / "models-checked.json", key, models_checked)
    _check_f_avg_classes(config, root, checked_dir)
    check_store_file(config, root, checked_dir)


def _check_f_avg_classes(config: dict, root: Path, checked_dir: Path) -> None:
    """evaluation.f_avg_classes must be stance values of the label schema (a new topic's schema
    with other values otherwise fails only once a model trains)."""
    import hashlib

    path = root / config["labels"]["schema"]
    if not path.is_file():
        return  # the label stage says so, with what to do
    classes = config["evaluation"]["f_avg_classes"]
    key = hashlib.sha256(path.read_bytes() + json.dumps(classes).encode("utf-8")).hexdigest()

    def checked() -> bool:
        from stance.errors import StanceError
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

    remembered(checked_dir / "f-avg-classes-checked.json", key, checked)
