"""End to end: docs/new-topic.md on a copy of the project, a made-up topic with no hand label."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from helpers import ROOT, copy_project, run_module, run_snakemake

pytestmark = pytest.mark.e2e

# Made-up articles of the walkthrough's example; "tweeted", "tweets" and "joked" are cues only
# through the mapping's `cues:` section.
ARTICLES = {
    "rally_ohio": [
        "Donald Trump promised a crowd in Ohio on Saturday that he would build a wall on the "
        "southern border.",
        '"We will build the wall, and Mexico will pay for it," Trump said.',
        "Hillary Clinton called the plan unworkable in a speech the same evening.",
        "The border is nearly 2,000 miles long.",
        '"A wall will not fix our immigration system," Clinton said.',
    ],
    "debate_night": [
        "The candidates met for their second debate in St. Louis on Sunday.",
        'Trump tweeted that the wall would be "beautiful" and paid for by Mexico.',
        "Clinton joked that the wall would need a very tall ladder.",
        "Her campaign manager, Robby Mook, told reporters the wall was a distraction.",
        "Polls show voters split on the question.",
    ],
    "border_towns": [
        "Residents of Laredo, Texas, say they are tired of hearing about the wall.",
        '"Nobody here asked for a wall," Mayor Pete Saenz said.',
        "The Republican nominee tweets about the border almost every day.",
        "Construction would cost billions of dollars, according to the Government "
        "Accountability Office.",
    ],
}

GUIDELINES = """# Labeling guidelines: speaker and stance on a wall on the US-Mexico border

## `speaker`: whose position the sentence states or reports

### `trump`
Donald Trump, his campaign and his spokespeople.

### `clinton`
Hillary Clinton, her campaign and her spokespeople.

### `other`
Anyone else named or quoted.

### `author`
The outlet's own narration with no attributed source.

## `stance`: the speaker's position on the wall

### `favor`
Supports building the wall or paying for it.

### `against`
Opposes the wall or calls it unworkable.

### `none`
No position on the wall: facts, background, other topics.
"""


def walkthrough_files() -> tuple[str, str]:
    """The schema and the mapping exactly as docs/new-topic.md shows them."""
    blocks = re.findall(r"```yaml\n(.*?)```", (ROOT / "docs/new-topic.md").read_text(), re.S)
    (schema,) = [b for b in blocks if b.startswith("target:")]
    (mapping,) = [b for b in blocks if b.startswith("speakers:")]
    return schema, mapping


def stance(project: Path, *args: str) -> subprocess.CompletedProcess:
    """The `stance` command of this environment, run in the project folder."""
    return run_module(project, "stance", *args, timeout=300)


def speakers_of(project: Path, text: str) -> pd.DataFrame:
    proc = stance(project, "predict", "--speakers-only", "--text", text)
    assert proc.returncode == 0, proc.stderr
    return pd.read_csv(io.StringIO(proc.stdout))


def test_a_new_topic_gets_speakers_with_no_label(tmp_path: Path):
    project = copy_project(tmp_path / "project")
    # Step 1: the old question's articles, labels and recorded sample go.
    for old in [*(project / "seeds").iterdir(), *(project / "labels").glob("*.csv")]:
        old.unlink()
    shutil.rmtree(project / "labels/samples")
    for article_id, sentences in ARTICLES.items():
        (project / f"seeds/{article_id}.txt").write_text("\n".join(sentences) + "\n")
    schema, mapping = walkthrough_files()
    assert "cues:" in mapping and "tweet" in mapping
    (project / "labels/schema.yaml").write_text(schema)
    (project / "labels/speakers.yaml").write_text(mapping)
    guidelines = project / "labels/GUIDELINES.md"
    guidelines.write_text(GUIDELINES)

    # `stance check`: passes, then names the value whose section is missing.
    proc = stance(project, "check")
    assert proc.returncode == 0, proc.stderr
    assert "describes every value of labels/schema.yaml (speaker: 4, stance: 3)" in proc.stdout
    guidelines.write_text(GUIDELINES.replace("### `clinton`\n", ""))
    proc = stance(project, "check")
    assert proc.returncode == 1
    assert (
        "speaker value 'clinton' of labels/schema.yaml has no section; add '### `clinton`' "
        "under '## `speaker`' with its description (Hillary Clinton, her campaign" in proc.stderr
    )
    assert "Traceback" not in proc.stderr
    guidelines.write_text(GUIDELINES)

    # The speaker outputs with zero labels: the targets the walkthrough names.
    targets = [
        "results/speakers/predicted.parquet",
        "results/speakers/mlflow_run.json",
        "results/sentences.parquet",
        "results/unlabeled.csv",
    ]
    run_snakemake(project, "-c2", *targets)
    sentences = pd.read_parquet(project / "results/sentences.parquet")
    predicted = pd.read_parquet(project / "results/speakers/predicted.parquet")
    table = sentences.merge(predicted, on="sentence_id", validate="one_to_one")
    assert len(table) == len(predicted) == sum(map(len, ARTICLES.values()))
    assert set(table["source"]) == {"rules"}
    speaker = table.set_index("text")["predicted_speaker"]
    evidence = table.set_index("text")["evidence"]
    tweeted, tweets = ARTICLES["debate_night"][1], ARTICLES["border_towns"][2]
    joked = ARTICLES["debate_night"][2]
    assert (speaker[tweeted], speaker[tweets], speaker[joked]) == ("trump", "trump", "clinton")
    assert evidence[tweeted].startswith("tweeted:") and evidence[joked].startswith("joked:")
    assert speaker[ARTICLES["debate_night"][3]] == "clinton"  # Robby Mook, by the mapping
    assert speaker[ARTICLES["rally_ohio"][3]] == "author"
    assert len(pd.read_csv(project / "results/unlabeled.csv")) == len(table)

    # The whole workflow builds what needs no label and says what waits for labels.
    proc = run_snakemake(project, "-c2")
    assert "note: no hand labels in labels/ yet" in proc.stdout + proc.stderr
    assert not (project / "results/findings").exists()

    # Speakers of any text, and the added cue is what makes them.
    text = "Trump tweeted that Mexico would pay."
    rows = speakers_of(project, text)
    assert rows["speaker"].tolist() == ["trump"] and "stance" not in rows.columns
    assert rows["speaker_evidence"][0].startswith("tweeted:")
    (project / "labels/speakers.yaml").write_text(mapping.split("cues:")[0])
    assert speakers_of(project, text)["speaker"].tolist() == ["author"]
