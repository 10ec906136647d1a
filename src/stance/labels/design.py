"""The labeling design: which hand labels are a probability sample (labels/samples/), of what."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from stance.errors import StanceError
from stance.io import write_json

SAMPLES_DIR = "samples"
UNITS = ("sentence", "article")
METHODS = ("srswor", "census")
# A manifest file's fields in the order written: the long ID lists last.
FIELDS = ("name", "unit", "method", "seed", "inclusion_probability", "created", "command", "note")
FIELDS += ("frame", "sample")


@dataclass(frozen=True)
class SampleManifest:
    """One recorded sample (see the module docstring)."""

    path: Path
    unit: str
    method: str
    frame: tuple[str, ...]
    sample: tuple[str, ...]  # in draw order
    seed: int | None = None
    created: str = ""
    command: str = ""
    note: str = ""

    @property
    def name(self) -> str:
        return self.path.stem

    @property
    def inclusion_probability(self) -> float:
        return round(len(self.sample) / len(self.frame), 6)

    def as_json(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in FIELDS}


def manifest_files(labels_dir: Path | str) -> list[Path]:
    """The sample manifests of the label folder, by name."""
    folder = Path(labels_dir) / SAMPLES_DIR
    return sorted(folder.glob("*.json")) if folder.is_dir() else []


def _fail(path: Path, what: str) -> StanceError:
    return StanceError(
        f"{path}: {what}; see docs/findings.md (the labeling design) for the format, or remove "
        "the file if these labels were not drawn at random"
    )


def _ids(path: Path, data: dict, key: str) -> tuple[str, ...]:
    value = data.get(key)
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise _fail(path, f"{key!r} must be a list of IDs (strings)")
    if (repeated := pd.Index(value).duplicated()).any():
        raise _fail(path, f"{key!r} lists {value[repeated.argmax()]!r} twice")
    return tuple(value)


def read_manifest(path: Path | str) -> SampleManifest:
    """A manifest, checked: every problem names the file and the field."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise _fail(path, "not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        raise _fail(path, f"not valid JSON ({where}: {exc.msg})") from None
    if not isinstance(data, dict):
        raise _fail(path, "must hold one JSON object")
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        raise _fail(path, f"unknown field(s) {', '.join(map(repr, unknown))}")
    unit, method = data.get("unit"), data.get("method", "srswor")
    if unit not in UNITS:
        raise _fail(path, f"'unit' must be one of {', '.join(UNITS)}, not {unit!r}")
    if method not in METHODS:
        raise _fail(path, f"'method' must be one of {', '.join(METHODS)}, not {method!r}")
    frame, sample = _ids(path, data, "frame"), _ids(path, data, "sample")
    if not frame or not sample:
        raise _fail(path, "'frame' and 'sample' must not be empty")
    outside = [s for s in sample if s not in set(frame)]
    if outside:
        raise _fail(path, f"{len(outside)} sampled unit(s) not in the frame (first: {outside[0]})")
    if method == "census" and len(sample) != len(frame):
        raise _fail(path, "a census samples every unit of its frame")
    seed = data.get("seed")
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
        raise _fail(path, "'seed' must be a whole number or null")
    text = {k: data.get(k, "") for k in ("created", "command", "note")}
    for k, v in text.items():
        if not isinstance(v, str):
            raise _fail(path, f"{k!r} must be text")
    return SampleManifest(path, unit, method, frame, sample, seed, **text)


def load_manifests(labels_dir: Path | str) -> list[SampleManifest]:
    """Every manifest of the label folder, oldest first (by ``created``, then name)."""
    return sorted(map(read_manifest, manifest_files(labels_dir)), key=lambda m: (m.created, m.name))


def draw_sample(
    labels_dir: Path | str,
    sentences: pd.DataFrame,
    labeled: Collection[str],
    size: int,
    seed: int,
    unit: str = "sentence",
    command: str = "",
) -> tuple[SampleManifest, bool]:
    """The sample ``(unit, seed)`` of ``size`` units, and whether it was drawn or extended now:
    the recorded one (a larger ``size`` extends it), else a new draw from the queue, recorded."""
    path = Path(labels_dir) / SAMPLES_DIR / f"{unit}s-seed{seed}.json"
    if path.exists():
        manifest = read_manifest(path)
        if size <= len(manifest.sample):
            return manifest, False
        if size > len(manifest.frame):
            raise StanceError(
                f"--sample {size}: sample {manifest.name} was drawn from a frame of "
                f"{len(manifest.frame)} {unit}(s); ask for at most that many, or draw a new "
                "sample of today's queue with another --seed"
            )
    else:
        queue = sentences[~sentences["sentence_id"].isin(set(labeled))]
        frame = tuple(sorted(set(queue["sentence_id" if unit == "sentence" else "article_id"])))
        if not frame:
            raise StanceError(
                "nothing to sample: every sentence is labeled; add articles (stance add) and run "
                "snakemake, or label others' sentences again with --relabel"
            )
        if size > len(frame):
            raise StanceError(
                f"--sample {size}: the queue has only {len(frame)} {unit}(s) nobody has labeled; "
                f"ask for at most {len(frame)}"
            )
        created = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        manifest = SampleManifest(path, unit, "srswor", frame, (), seed, created, command)
    # A larger sample follows the same permutation of the frame: still a simple random sample.
    order = np.random.default_rng(seed).permutation(len(manifest.frame))[:size]
    manifest = replace(
        manifest,
        sample=tuple(manifest.frame[i] for i in order),
        method="srswor" if size < len(manifest.frame) else "census",
    )
    write_json(manifest.path, manifest.as_json(), indent=1)
    return manifest, True


def sample_sentences(
    manifest: SampleManifest, sentences: pd.DataFrame, size: int | None = None
) -> list[str]:
    """The IDs of the first ``size`` units drawn (all: None) in draw order, then ``sentences``'."""
    units = manifest.sample[:size]
    if manifest.unit == "sentence":
        present = set(sentences["sentence_id"])
        return [s for s in units if s in present]
    by_article = sentences.groupby("article_id", sort=False)["sentence_id"].apply(list).to_dict()
    return [s for a in units for s in by_article.get(a, [])]


@dataclass
class DesignReport:
    """One manifest resolved against the corpus and the labels (one row of the design table)."""

    name: str
    unit: str
    method: str
    frame: int  # frame units still in the corpus
    drawn: int
    complete: int  # drawn units labeled in full: the sample the estimate uses
    incomplete: int
    frame_sentences: int  # sentences whose estimate this design carries
    missing_frame: int  # frame units no longer in the corpus
    seed: int | None


@dataclass
class ResolvedDesign:
    """Per sentence: its design (-1: none), unit and whether that is a complete sampled unit."""

    design: np.ndarray
    unit: np.ndarray
    sampled: np.ndarray
    reports: list[DesignReport] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def resolve_designs(
    manifests: Iterable[SampleManifest], sentences: pd.DataFrame, labeled: Collection[str]
) -> ResolvedDesign:
    """Each sentence belongs to the latest design whose frame holds it; a sampled unit counts
    once all its sentences are labeled (random still, if units are labeled in the order drawn)."""
    n = len(sentences)
    design = np.full(n, -1, dtype=int)
    unit = sentences["sentence_id"].astype(str).to_numpy(dtype=object)
    sampled = np.zeros(n, dtype=bool)
    is_labeled = sentences["sentence_id"].isin(set(labeled)).to_numpy()
    result = ResolvedDesign(design, unit, sampled)
    for d, m in enumerate(manifests):
        column = "sentence_id" if m.unit == "sentence" else "article_id"
        keys = sentences[column].astype(str).to_numpy()
        present = set(keys)
        in_frame = np.isin(keys, np.asarray(m.frame, dtype=object))
        design[in_frame] = d
        unit[in_frame] = keys[in_frame]
        drawn_present = [u for u in m.sample if u in present]
        complete_units = {u for u in drawn_present if is_labeled[keys == u].all()}
        sampled[in_frame & np.isin(keys, list(complete_units))] = True
        missing = sum(1 for u in m.frame if u not in present)
        if missing:
            result.warnings.append(
                f"{m.path}: {missing} {m.unit}(s) of its frame are no longer in the corpus "
                "(edited or removed articles); the design covers the rest"
            )
        result.reports.append(
            DesignReport(
                m.name, m.unit, m.method, len(m.frame) - missing, len(m.sample),
                len(complete_units), len(drawn_present) - len(complete_units), 0, missing, m.seed,
            )
        )  # fmt: skip
    for d, report in enumerate(result.reports):
        report.frame_sentences = int((design == d).sum())
    return result


def design_table(resolved: ResolvedDesign, labeled: Collection[str]) -> pd.DataFrame:
    """One row per design, and a last row for the labels outside any sample."""
    chosen = len(set(labeled)) - int(resolved.sampled.sum())
    outside = DesignReport("(chosen: no design)", "sentence", "", 0, 0, chosen, 0, 0, 0, None)
    return pd.DataFrame([vars(r) for r in [*resolved.reports, outside]])
