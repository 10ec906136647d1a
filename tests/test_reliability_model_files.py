"""Reliability: loading a model or a cache never runs code from the file (allowlist of classes)."""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from helpers import ROOT, make_dataset
from sklearn.dummy import DummyClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from stance.errors import StanceError

# --- Loading a model or a cache never runs code from the file ----------------------------------
#
# A crafted scikit-learn pipeline made only of scikit-learn, numpy and builtins names (so a check
# by module prefix lets it through) runs Python code on predict: the input becomes an array of
# the payload string, one element of it is taken with iter/next and handed to exec. Each test
# gives it a payload that creates a marker file; the marker must not exist afterwards.

EXPERIMENT = "reliability"


def payload(marker: Path) -> str:
    return f"open({str(marker)!r}, 'w').write('the payload ran')"


def crafted_pipeline(marker: Path) -> Pipeline:
    """A fitted pipeline whose predict runs ``payload(marker)`` through builtins.exec."""
    fill = {"fill_value": payload(marker), "dtype": object}
    steps = [
        ("fill", FunctionTransformer(np.full_like, kw_args=fill)),
        ("flat", FunctionTransformer(np.ravel)),
        ("iter", FunctionTransformer(iter)),
        ("next", FunctionTransformer(next)),
        ("run", FunctionTransformer(exec)),
        ("classifier", DummyClassifier()),
    ]
    x = pd.DataFrame({"text": ["a", "b"]})
    for _, step in steps[:-1]:
        step.fit(x)  # FunctionTransformer.fit never calls its function
    steps[-1][1].fit(x, ["favor", "against"])
    return Pipeline(steps)


class _RunsOnUnpickle:
    """An object whose unpickling runs ``code`` (what any pickle-based format allows)."""

    def __init__(self, code: str) -> None:
        self.code = code

    def __reduce__(self):
        return (exec, (self.code,))


def test_the_crafted_pipeline_runs_its_payload_when_trusted_blindly(tmp_path):
    # The attack is real: trusting every type the file names (what a prefix check amounted to)
    # runs the payload on predict. Everything below must refuse the same file.
    import skops.io

    marker = tmp_path / "ran"
    data = skops.io.dumps(crafted_pipeline(marker))
    untrusted = skops.io.get_untrusted_types(data=data)
    assert {"builtins.exec", "numpy.full_like"} <= set(untrusted)
    assert not marker.exists()
    model = skops.io.loads(data, trusted=untrusted)
    with pytest.raises(Exception):  # noqa: B017 (the classifier gets None after exec)
        model.predict(pd.DataFrame({"text": ["x"]}))
    assert marker.exists()


def _project(root: Path) -> Path:
    """A project folder with the real config, its MLflow store in the folder."""
    for item in ("config", "workflow/schemas", "labels"):
        shutil.copytree(ROOT / item, root / item, ignore=shutil.ignore_patterns("*.csv"))
    config = yaml.safe_load((root / "config/config.yaml").read_text())
    config["evaluation"]["n_bootstrap"] = 100
    config["mlflow"] = {"tracking_uri": None, "experiment": EXPERIMENT}
    (root / "config/config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return root


def log_like_an_attacker(uri: str, model: Pipeline, classes: list[str], f_avg: float) -> str:
    """Log ``model`` with plain MLflow, dressed up as a model run of the project."""
    import mlflow
    import skops.io

    mlflow.set_tracking_uri(uri)
    experiment = mlflow.set_experiment(EXPERIMENT)
    trusted = skops.io.get_untrusted_types(data=skops.io.dumps(model))
    tags = {"stance.role": "model", "model": "best_model", "kind": "tfidf_word"}
    with mlflow.start_run(experiment_id=experiment.experiment_id, run_name="best", tags=tags):
        mlflow.log_params({"classes": ",".join(classes), "features": "text", "model": "best"})
        mlflow.log_metrics({"f_avg": f_avg, "macro_f1": f_avg})
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            serialization_format="skops",
            skops_trusted_types=trusted,
            pip_requirements=["scikit-learn"],
        )
    return info.run_id


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A project whose store holds one model logged by the project and, with the highest
    f_avg (ties go to the newer run), one crafted model logged by someone else."""
    from stance.config import load_config
    from stance.tracking.runs import log_evaluation_run
    from stance.training.artifacts import ARTIFACT_FILES, write_evaluation
    from stance.training.data import from_dataset
    from stance.training.evaluate import evaluate
    from stance.training.models import spec_from_entry
    from stance.training.settings import EvalSettings

    tmp = tmp_path_factory.mktemp("reliability")
    root = _project(tmp / "project")
    config = load_config(root / "config/config.yaml")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    data = from_dataset(make_dataset(4, 10), str(tmp / "labeled_dataset"))
    settings = EvalSettings.from_config(config)
    spec = spec_from_entry(
        {"name": "svm", "kind": "tfidf_word", "params": {"classifier": "linear_svm"}}
    )
    ev = evaluate(data, spec, settings)
    write_evaluation(ev, tmp / "svm")
    project_run = log_evaluation_run(
        uri, EXPERIMENT, ev.summary, ev.final_model,
        [tmp / "svm" / f for f in ARTIFACT_FILES], data, config=config, root=tmp,
    )["run_id"]  # fmt: skip
    marker = tmp / "payload-ran"
    crafted_run = log_like_an_attacker(uri, crafted_pipeline(marker), data.classes, 1.0)
    assert not marker.exists()  # logging it ran nothing
    return {"root": root, "uri": uri, "data": data, "ev": ev, "marker": marker,
            "project_run": project_run, "crafted_run": crafted_run}  # fmt: skip


def test_a_crafted_logged_model_is_refused_and_runs_nothing(store):
    from stance.tracking.model_io import load_logged_model

    with pytest.raises(StanceError) as err:
        model = load_logged_model(store["uri"], store["crafted_run"])
        model.predict(pd.DataFrame({"text": ["Bring the soldiers home."]}))
    message = str(err.value)
    assert store["crafted_run"] in message and "not loaded" in message
    assert "builtins.exec" in message and "numpy.full_like" in message
    assert not store["marker"].exists()


def test_stance_predict_refuses_the_crafted_default_model(store, monkeypatch, capsys):
    from stance.cli.main import main

    monkeypatch.chdir(store["root"])
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    for extra in ([], ["--run-id", store["crafted_run"]]):
        code = main(["predict", *extra, "--text", "Bring the soldiers home."])
        err = capsys.readouterr().err
        assert code == 2, err
        assert err.startswith("error: ") and store["crafted_run"] in err
        assert "builtins.exec" in err and "Traceback" not in err
        assert not store["marker"].exists()


def test_uncertain_order_skips_the_crafted_model_with_a_note(store, capsys):
    from stance.annotate.session import logged_model_probabilities

    sentences = pd.DataFrame({"sentence_id": ["a:1"], "text": ["Bring the soldiers home."]})
    assert logged_model_probabilities(store["uri"], EXPERIMENT)(sentences) is None
    err = capsys.readouterr().err
    assert store["crafted_run"] in err and "builtins.exec" in err
    assert not store["marker"].exists()


def test_a_model_logged_by_the_project_still_loads_and_predicts_the_same(
    store, monkeypatch, capsys
):
    from stance.cli.main import main
    from stance.tracking.model_io import load_logged_model

    model = load_logged_model(store["uri"], store["project_run"])
    x = store["data"].frame[["text"]]
    expected = store["ev"].final_model
    assert list(model.predict(x)) == list(expected.predict(x))
    np.testing.assert_allclose(model.predict_proba(x), expected.predict_proba(x))

    monkeypatch.chdir(store["root"])
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    code = main(["predict", "--run-id", store["project_run"], "--text", "Bring them home."])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "proba_" in captured.out


def test_a_crafted_local_model_file_is_refused(tmp_path):
    import skops.io

    from stance.training.artifacts import MODEL_FILE, load_final_model

    x = pd.DataFrame({"text": ["Bring the soldiers home."]})
    marker = tmp_path / "ran"
    folder = tmp_path / "model"
    folder.mkdir()
    path = folder / MODEL_FILE
    skops.io.dump(crafted_pipeline(marker), path)
    with pytest.raises(StanceError) as err:
        load_final_model(folder).predict(x)
    assert str(path) in str(err.value) and "builtins.exec" in str(err.value)
    assert "not loaded" in str(err.value)
    assert not marker.exists()

    # A pickle under the model's name (it would run code as it loads) is refused as well.
    path.write_bytes(pickle.dumps(_RunsOnUnpickle(payload(marker))))
    with pytest.raises(StanceError) as err:
        load_final_model(folder).predict(x)
    assert str(path) in str(err.value)
    assert not marker.exists()


# --- The split cache ---------------------------------------------------------------------------


def _split(paths, config, out: Path, cache: Path):
    from stance.corpus.stage import split_shard

    return split_shard(paths, config, out / "s.parquet", out / "c.tsv", out / "a.tsv", cache=cache)


def _outputs(folder: Path) -> tuple:
    return (
        pd.read_parquet(folder / "s.parquet"),
        (folder / "c.tsv").read_text(encoding="utf-8"),
        (folder / "a.tsv").read_text(encoding="utf-8"),
    )


def _assert_same_outputs(a: Path, b: Path) -> None:
    (sa, ca, aa), (sb, cb, ab) = _outputs(a), _outputs(b)
    pd.testing.assert_frame_equal(sa, sb)
    assert ca == cb and aa == ab


def test_a_pickle_in_the_split_cache_runs_nothing_and_the_shard_is_split_again(
    tmp_path, config, project_root, capsys
):
    paths = sorted((project_root / "seeds").glob("*.txt"))
    marker = tmp_path / "ran"
    cache = tmp_path / "cache" / "shard-0.json"
    cache.parent.mkdir()
    cache.write_bytes(pickle.dumps(_RunsOnUnpickle(payload(marker))))
    assert _split(paths, config, tmp_path / "out", cache) == (len(paths), 0)
    assert not marker.exists()
    assert str(cache) in capsys.readouterr().err
    _split(paths, config, tmp_path / "fresh", tmp_path / "other.json")
    _assert_same_outputs(tmp_path / "out", tmp_path / "fresh")
    # The cache written after the re-split is a good one.
    assert _split(paths, config, tmp_path / "again", cache) == (0, len(paths))
    _assert_same_outputs(tmp_path / "again", tmp_path / "fresh")


@pytest.mark.parametrize(
    "tamper",
    [
        "garbage",
        "truncated",
        "not_a_dict",
        "short_sentence_row",
        "text_not_a_string",
        "offset_not_a_number",
        "chrome_row_not_a_list",
    ],
)
def test_a_damaged_split_cache_is_ignored_with_a_note(
    tamper, tmp_path, config, project_root, capsys
):
    paths = sorted((project_root / "seeds").glob("*.txt"))
    cache = tmp_path / "shard-0.json"
    _split(paths, config, tmp_path / "fresh", cache)
    good = cache.read_text(encoding="utf-8")
    data = json.loads(good)
    first = next(iter(data["articles"].values()))
    if tamper == "garbage":
        cache.write_bytes(b"\x80\x04\x95 not json at all")
    elif tamper == "truncated":
        cache.write_text(good[: len(good) // 2], encoding="utf-8")
    elif tamper == "not_a_dict":
        cache.write_text(json.dumps([data["settings"], data["articles"]]), encoding="utf-8")
    else:
        if tamper == "short_sentence_row":
            first[1][0] = first[1][0][:3]
        elif tamper == "text_not_a_string":
            first[1][0][5] = {"__reduce__": "exec"}
        elif tamper == "offset_not_a_number":
            first[1][0][3] = "12"
        elif tamper == "chrome_row_not_a_list":
            first[2] = "rows"
        cache.write_text(json.dumps(data), encoding="utf-8")
    capsys.readouterr()
    assert _split(paths, config, tmp_path / "out", cache) == (len(paths), 0)
    err = capsys.readouterr().err
    assert str(cache) in err and "split again" in err
    _assert_same_outputs(tmp_path / "out", tmp_path / "fresh")


# --- The allowlist of model types --------------------------------------------------------------


def registry_variants() -> list[tuple[str, dict]]:
    """Every registered kind with every classifier it can use, as (kind, params)."""
    from stance.training.extras import extra_of_kind, missing_modules
    from stance.training.models import CLASSIFIERS, KINDS

    variants = [
        (name, {"classifier": c} if c else {})
        for name, kind in KINDS.items()
        for c in (CLASSIFIERS if "classifier" in kind.defaults else [None])
    ]
    # The prior-corrected logistic regression (a class of its own) where a kind offers it.
    variants += [
        (name, {"prior_correction": 1.0})
        for name, kind in KINDS.items()
        if "prior_correction" in kind.defaults
    ]
    # Kinds whose optional extra is missing cannot be fitted here (CI installs every extra).
    return [(k, p) for k, p in variants if not (extra_of_kind(k) and missing_modules())]


VARIANTS = registry_variants()
VARIANT_IDS = [
    f"{k}-{p.get('classifier', 'default')}" + ("-prior" if "prior_correction" in p else "")
    for k, p in VARIANTS
]


@pytest.fixture(scope="module")
def labeled(tmp_path_factory):
    from stance.training.data import from_dataset

    return from_dataset(make_dataset(4, 10), str(tmp_path_factory.mktemp("data") / "ds"))


def fitted_model(kind: str, params: dict, data) -> Pipeline:
    """The model of a kind fit on ``data`` as the project fits a final model (Pipeline.fit)."""
    from stance.training.models import spec_from_entry

    spec = spec_from_entry({"name": "m", "kind": kind, "params": params})
    x, y = data.frame[spec.features], data.frame["stance"].to_numpy()
    return spec.build(0).fit(x, y)


def test_the_allowlist_is_what_the_registered_kinds_are_made_of(labeled):
    import skops.io

    from stance.training.model_files import (
        ALLOWED_CLASSES,
        ALLOWED_TYPES,
        EARLIER_CLASSES,
        PROJECT_TYPES,
        model_types,
        type_name,
    )

    assert all(isinstance(c, type) for c in ALLOWED_CLASSES), "ALLOWED_CLASSES: classes only"
    assert not {"builtins.exec", "builtins.eval", "builtins.getattr", "numpy.full_like"} & (
        ALLOWED_TYPES
    )
    needed: set[str] = set()
    for kind, params in VARIANTS:
        model = fitted_model(kind, params, labeled)
        types = model_types(model)
        missing = sorted(types - ALLOWED_TYPES)
        assert not missing, (
            f"model kind {kind!r} {params} is made of types outside the allowlist: "
            f"{', '.join(missing)}. If they are classes that run no code of their own, add "
            "them to ALLOWED_CLASSES in src/stance/training/model_files.py (a name marked "
            "'(a function)' is a function or method: never trust it)"
        )
        # The file asks skops to trust the project's classes only.
        assert set(skops.io.get_untrusted_types(data=skops.io.dumps(model))) <= PROJECT_TYPES
        needed |= types
    unused = sorted(ALLOWED_TYPES - needed - {type_name(c) for c in EARLIER_CLASSES})
    from stance.training.extras import missing_modules

    if missing_modules():
        # The encoder kinds were not fitted, so the classes only they use look unused: the
        # encoder, and the prior-corrected head of the kinds that offer prior_correction.
        from stance.training.extras import extra_of_kind
        from stance.training.models import KINDS, PriorCorrectedLogisticRegression

        encoder_only = {"stance.training.encoders.SentenceEncoder"}
        prior_kinds = [k for k, kind in KINDS.items() if "prior_correction" in kind.defaults]
        if prior_kinds and all(extra_of_kind(k) for k in prior_kinds):
            encoder_only.add(type_name(PriorCorrectedLogisticRegression))
        unused = [t for t in unused if t not in encoder_only]
    assert not unused, (
        f"ALLOWED_CLASSES in src/stance/training/model_files.py trusts types no registered kind "
        f"needs: {', '.join(unused)}; remove them"
    )


@pytest.mark.parametrize(("kind", "params"), VARIANTS, ids=VARIANT_IDS)
def test_every_kind_round_trips_through_the_model_file(kind, params, labeled, tmp_path):
    from stance.training.model_files import load_model, save_model

    x = labeled.frame[["text", "speaker"]].copy()
    x.loc[0, "speaker"] = "someone unseen"
    model = fitted_model(kind, params, labeled)
    path = tmp_path / "model.skops"
    save_model(model, path)
    loaded = load_model(path)
    features = x[list(model.feature_names_in_)] if hasattr(model, "feature_names_in_") else x
    assert list(loaded.predict(features)) == list(model.predict(features))
    np.testing.assert_allclose(loaded.predict_proba(features), model.predict_proba(features))


def test_a_model_file_needing_a_type_outside_the_allowlist_is_refused(
    labeled, tmp_path, monkeypatch
):
    # What the round trip above would do if the allowlist lacked a type a kind needs.
    from stance.training import model_files

    model = fitted_model("tfidf_word", {"classifier": "linear_svm"}, labeled)
    path = tmp_path / "model.skops"
    model_files.save_model(model, path)
    svc = "stance.training.models.SoftmaxLinearSVC"
    monkeypatch.setattr(model_files, "ALLOWED_TYPES", model_files.ALLOWED_TYPES - {svc})
    with pytest.raises(model_files.UntrustedModelError, match=svc) as err:
        model_files.load_model(path)
    assert str(path) in str(err.value) and "not loaded" in str(err.value)
    with pytest.raises(model_files.UntrustedModelError, match=svc):
        model_files.save_model(model, tmp_path / "other.skops")
    assert not (tmp_path / "other.skops").exists()


def test_a_class_or_method_outside_the_allowlist_is_refused(tmp_path):
    import skops.io
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    from stance.training.model_files import UntrustedModelError, checked_dumps, load_model

    # Trust goes by exact class, not by module: another scikit-learn class is not trusted.
    scaled = Pipeline([("scale", StandardScaler()), ("classifier", LogisticRegression())])
    with pytest.raises(UntrustedModelError, match="StandardScaler"):
        checked_dumps(scaled)
    # A trusted class held as a value (it could be called) is not the dtype a model holds.
    with pytest.raises(UntrustedModelError, match=r"sklearn\.pipeline\.Pipeline \(a class\)"):
        checked_dumps(Pipeline([("tfidf", TfidfVectorizer(dtype=Pipeline))]))
    # A bound method of a trusted class is a function call in disguise (skops itself refuses
    # to read this one: the method's owner is named by its defining module).
    method = TfidfVectorizer(analyzer=LogisticRegression().get_params)
    with pytest.raises(UntrustedModelError, match=r"LogisticRegression\.get_params \(a function"):
        checked_dumps(method)
    path = tmp_path / "model.skops"
    skops.io.dump(method, path)
    with pytest.raises(UntrustedModelError, match=r"LogisticRegression.*not loaded"):
        load_model(path)


def test_logging_a_model_outside_the_allowlist_is_an_error(store, tmp_path):
    import mlflow

    from stance.tracking.runs import log_evaluation_run
    from stance.training.model_files import trusted_types

    marker = tmp_path / "ran"
    crafted = crafted_pipeline(marker)
    with pytest.raises(StanceError, match=r"builtins\.exec"):
        trusted_types(crafted)
    client = mlflow.MlflowClient(tracking_uri=store["uri"])
    before = len(client.search_runs(client.get_experiment_by_name(EXPERIMENT).experiment_id))
    summary = {**store["ev"].summary, "model": "crafted"}
    with pytest.raises(StanceError, match=r"model 'crafted'.*builtins\.exec"):
        log_evaluation_run(
            store["uri"], EXPERIMENT, summary, crafted, [], store["data"], root=tmp_path
        )
    after = len(client.search_runs(client.get_experiment_by_name(EXPERIMENT).experiment_id))
    assert after == before
    assert not marker.exists()


# --- Crafted skops schemas: malformed nodes, types in the wrong node kind, odd parameters ------


def _project_model_bytes() -> bytes:
    import skops.io

    from stance.training.models import spec_from_entry

    data = make_dataset(3, 6)
    frame = data.to_pandas()
    spec = spec_from_entry({"name": "m", "kind": "tfidf_word"})
    model = spec.build(0).fit(frame[["text"]], frame["stance"].astype(str))
    return skops.io.dumps(model)


def _with_schema(data: bytes, edit) -> bytes:
    import io
    import zipfile

    source = zipfile.ZipFile(io.BytesIO(data))
    schema = json.loads(source.read("schema.json"))
    edit(schema)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            content = source.read(item.filename)
            if item.filename == "schema.json":
                content = json.dumps(schema).encode("utf-8")
            target.writestr(item, content)
    return out.getvalue()


def _first_node(schema, loader: str):
    """The first node of a skops schema with this ``__loader__`` (depth first)."""
    stack = [schema]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if item.get("__loader__") == loader:
                return item
            stack.extend(reversed(list(item.values())))
        elif isinstance(item, list):
            stack.extend(reversed(item))
    raise AssertionError(f"no {loader} in the schema")


@pytest.mark.parametrize(
    "edit",
    [
        lambda s: _first_node(s, "ObjectNode").update(__loader__=["x"]),
        lambda s: _first_node(s, "ObjectNode").update(__module__=None),
        lambda s: _first_node(s, "NdArrayNode").update(
            __module__="sklearn.pipeline", __class__="Pipeline"
        ),
        lambda s: _first_node(s, "ObjectNode").update(__loader__="MethodNode", content=[1]),
    ],
    ids=["loader-not-a-string", "module-missing", "array-node-naming-a-class", "odd-method"],
)
def test_a_crafted_schema_is_refused_with_a_message(edit):
    from stance.training.model_files import UntrustedModelError, loads_checked

    crafted = _with_schema(_project_model_bytes(), edit)
    with pytest.raises(UntrustedModelError, match=r"^crafted: .*it was not loaded"):
        loads_checked(crafted, "crafted")


def test_a_vectoriser_that_would_open_its_inputs_as_files_is_refused(tmp_path: Path):
    import skops.io

    from stance.training.model_files import UntrustedModelError, loads_checked

    model = skops.io.loads(_project_model_bytes(), trusted=skops.io.get_untrusted_types(
        data=_project_model_bytes()))  # fmt: skip
    model.set_params(features__word__input="filename")
    with pytest.raises(UntrustedModelError, match=r"features__word__input='filename'"):
        loads_checked(skops.io.dumps(model), "crafted")


def test_an_mlmodel_naming_a_file_outside_its_folder_is_not_followed(tmp_path: Path):
    from stance.tracking.model_io import _model_files

    folder = tmp_path / "model"
    folder.mkdir()
    (tmp_path / "elsewhere.skops").write_bytes(b"x")
    (folder / "MLmodel").write_text(
        "flavors:\n  sklearn:\n    pickled_model: ../elsewhere.skops\n"
        "    serialization_format: skops\n",
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match="outside the logged model"):
        _model_files(folder)
