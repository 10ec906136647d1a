"""The speaker rules and the naive floor on public news: the Wikinews articles of GUM.

GUM, the Georgetown University Multilayer corpus (Zeldes 2017, https://github.com/amir-zeldes/gum),
annotates its texts independently of this project with discourse relations (RST), among them
``attribution`` (a reporting or cognition clause and the content it attributes) with the tokens
of the source, and with entities and their coreference. Its news texts are Wikinews articles
(CC BY 2.5); the annotations are CC BY 4.0. Nothing of it is in this repository: clone it and
point ``--gum`` at the clone.

    git clone https://github.com/amir-zeldes/gum ../gum
    .venv/bin/python benchmarks/speakers_gum.py --gum ../gum

Gold speaker of a sentence (GUM's own sentences and paragraphs): the source of an attribution
whose clause is in the sentence, else of the innermost attribution whose content covers it; a
sentence no attribution touches is ``author``. A source is its coreference entity when the
entity is a person or organisation with a proper name in the article, else ``other``.

The mapping, made the way a researcher would without reading for errors: per article, every
person and organisation entity is a speaker value, its names the runs of proper nouns in its
mentions (a name two entities share is left out). Pronouns, role nouns ("the agency") and the
cue lexicon are the project's (``labels/speakers.yaml``, ``src/stance/speakers/cues.yaml``).

Methods: the rules, the naive floor of benchmarks/speaker_floor.py, and the rules with GUM's gold
dependency trees where the rules find no explicit attribution ("rules + gold parse": the subject
of a cue verb, what "according to" heads) -- an upper bound of what a parser could add.

Scores, with percentile intervals from resampling articles: speaker accuracy over all
sentences, attributed-vs-narration F1, and source accuracy on the sentences GUM attributes.
Prints a Markdown table (and writes JSON with ``--json FILE``). Nothing is tuned on it.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import xml.etree.ElementTree as ET
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from unittest import mock

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from speaker_floor import naive_speaker

from stance.config import load_config
from stance.speakers import rules
from stance.speakers.attribution import mapping_from_config
from stance.speakers.mapping import NARRATION, NameEntry, SpeakerMapping
from stance.speakers.pointers import Context
from stance.speakers.quotes import QuoteShape
from stance.speakers.rules import Attribution, attribute_article
from stance.training.settings import EvalSettings

SOURCE_TYPES = ("person", "organization")
OTHER = "other"
# "(person-12-Name", "person-12-Name)" or "(time-7)": one entity bracket of GUM's coref CoNLL.
_BRACKET = re.compile(r"(\()?([a-z]+)-(\d+)(?:-[^()]*)?(\))?")
_TAG = re.compile(r"<(/?)(\w+)")


@dataclass
class Article:
    """One GUM document: sentences (text, paragraph start, token range) and annotations."""

    name: str
    texts: list[str] = field(default_factory=list)
    starts: list[bool] = field(default_factory=list)
    sentence_of: list[int] = field(default_factory=list)  # per token (0-based, document-wide)
    upos: list[str] = field(default_factory=list)
    head: list[int] = field(default_factory=list)  # per token: its syntactic head (-1: root)
    lemma: list[str] = field(default_factory=list)
    deprel: list[str] = field(default_factory=list)
    words: list[str] = field(default_factory=list)
    glued: list[bool] = field(default_factory=list)  # per token: no space after it
    mentions: list[tuple[int, int, str, str]] = field(default_factory=list)  # start, end, type, id
    quoted: list[bool] = field(default_factory=list)  # per token: inside <q> or <quote>
    caption: list[bool] = field(default_factory=list)  # per token: inside <figure> or <caption>
    split: str = ""  # GUM's partition: "train" or "dev+test"


def read_conllu(path: Path) -> Article:
    """Sentences, paragraph starts and tokens of a GUM CoNLL-U file."""
    article = Article(path.stem)
    newpar, base = False, 0
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# newpar"):
            newpar = True
        elif line.startswith("# text = "):
            base = len(article.words)
            article.texts.append(line[len("# text = ") :])
            article.starts.append(newpar)
            newpar = False
        elif line and not line.startswith("#"):
            cols = line.split("\t")
            if cols[0].isdigit():  # not a multiword range ("1-2") nor an empty node ("1.1")
                article.sentence_of.append(len(article.texts) - 1)
                article.words.append(cols[1])
                article.glued.append("SpaceAfter=No" in cols[9])
                article.upos.append(cols[3])
                article.head.append(base + int(cols[6]) - 1 if cols[6] != "0" else -1)
                article.lemma.append(cols[2])
                article.deprel.append(cols[7])
    return article


def read_xml(path: Path, article: Article) -> None:
    """GUM's partition of the article, and which tokens its XML puts in quotations and in figure
    captions."""
    depth = {"q": 0, "quote": 0, "figure": 0, "caption": 0}
    text = path.read_text(encoding="utf-8")
    article.split = "train" if 'partition="train"' in text.split(">", 1)[0] else "dev+test"
    for line in text.splitlines():
        tag = _TAG.match(line)
        if tag and tag[2] in depth and not line.rstrip().endswith("/>"):
            depth[tag[2]] += -1 if tag[1] else 1
        elif "\t" in line:
            article.quoted.append(depth["q"] + depth["quote"] > 0)
            article.caption.append(depth["figure"] + depth["caption"] > 0)
    if len(article.quoted) != len(article.words):
        raise SystemExit(f"{path}: {len(article.quoted)} tokens, CoNLL-U has {len(article.words)}")


def read_mentions(path: Path, article: Article) -> None:
    """Entity mentions (token spans, type, entity id) of GUM's coref CoNLL file."""
    open_at: dict[str, list[tuple[int, str]]] = defaultdict(list)
    lines = [ln.split("\t") for ln in path.read_text(encoding="utf-8").splitlines()]
    rows = [cols for cols in lines if len(cols) == 3 and cols[0].isdigit()]
    if len(rows) != len(article.words):
        raise SystemExit(f"{path}: {len(rows)} tokens, the CoNLL-U file has {len(article.words)}")
    for cols in rows:
        index = int(cols[0])
        for m in _BRACKET.finditer(cols[2]):
            etype, eid = m[2], f"{m[2]}-{m[3]}"
            if m[1]:
                open_at[eid].append((index, etype))
            if m[4]:
                start, etype = open_at[eid].pop()
                article.mentions.append((start, index + 1, etype, eid))


def names_of(article: Article) -> dict[str, str]:
    """Name -> entity id: in each person and organisation mention, the run of proper nouns
    around its syntactic head ("the Andy Warhol Foundation"), or where the head is a common
    noun, the runs of two or more; never the words of another entity's mention nested in it
    ("Alia Salem", not "Islamic Relations Alia Salem"). A name two entities share is left out."""
    words, glued = article.words, article.glued

    def in_name(t: int) -> bool:  # a proper noun, or a hyphen inside one ("Al-Maeena")
        return article.upos[t] == "PROPN" or (words[t] == "-" and glued[t] and glued[t - 1])

    def text(run: list[int]) -> str:
        return "".join(words[t] + ("" if glued[t] else " ") for t in run).strip(" -")

    owners: dict[str, set[str]] = defaultdict(set)
    for start, end, etype, eid in article.mentions:
        if etype not in SOURCE_TYPES:
            continue
        span = range(start, end)
        nested = {
            t for s, e, _, other in article.mentions if other != eid and start <= s and e <= end
            for t in range(s, e)
        }  # fmt: skip
        head = next((t for t in span if article.head[t] not in span), start)
        if article.upos[head] == "PROPN" and head not in nested:
            first, last = head, head
            while first > start and in_name(first - 1) and first - 1 not in nested:
                first -= 1
            while last + 1 < end and in_name(last + 1) and last + 1 not in nested:
                last += 1
            owners[text(list(range(first, last + 1)))].add(eid)
            continue
        run: list[int] = []
        for t in [*span, None]:
            if t is not None and in_name(t) and t not in nested:
                run.append(t)
            elif run:
                if len(run) > 1:  # a full name ("Alireza Mehraban"), not "former Scientologist"
                    owners[text(run)].add(eid)
                run = []
    return {name: next(iter(ids)) for name, ids in owners.items() if len(ids) == 1 and name}


def gold_speakers(rs4: Path, article: Article, named: set[str]) -> list[str | None]:
    """Each sentence's gold speaker from the RST attribution relations (module docstring);
    ``None`` for a caption, and for a quotation no attribution touches."""
    body = ET.parse(rs4).getroot().find("body")
    parent: dict[str, str] = {}
    relname: dict[str, str] = {}
    segments: list[str] = []
    edu_len: dict[str, int] = {}
    for node in body:
        if node.tag in ("segment", "group"):
            parent[node.get("id")] = node.get("parent", "")
            relname[node.get("id")] = node.get("relname", "")
        if node.tag == "segment":
            segments.append(node.get("id"))
            edu_len[node.get("id")] = len((node.text or "").split())
    sources: dict[str, list[int]] = {}
    for signal in body.iter("signal"):
        if signal.get("subtype") == "attribution_source" and signal.get("tokens"):
            sources[signal.get("source")] = [int(t) - 1 for t in signal.get("tokens").split(",")]
    # The sentence of each segment (its first token), and the segments under each node.
    sentence, token = {}, 0
    for seg in sorted(segments, key=int):
        sentence[seg] = article.sentence_of[token]
        token += edu_len[seg]
    if token != len(article.words):
        raise SystemExit(f"{rs4}: {token} tokens in segments, {len(article.words)} in CoNLL-U")
    under: dict[str, set[str]] = defaultdict(set)
    for seg in segments:
        node = seg
        while node:
            under[node].add(seg)
            node = parent.get(node, "")
    entity_at = sorted(article.mentions, key=lambda m: m[0] - m[1])  # widest first

    def source_speaker(node: str) -> str:
        tokens = set(sources.get(node, ()))
        for start, end, etype, eid in entity_at:
            if tokens and set(range(start, end)) <= tokens and etype in SOURCE_TYPES:
                return eid if eid in named else OTHER
        return OTHER

    by_sentence: dict[int, list[tuple[int, int, str]]] = defaultdict(list)
    for node, rel in relname.items():
        if not rel.startswith("attribution") or not parent.get(node):
            continue
        speaker = source_speaker(node)
        clause = under[node]
        content = under[parent[node]] - clause
        first = min(int(s) for s in clause)
        for seg in clause:  # the clause's own sentence ranks first (rank 0), then by position
            by_sentence[sentence[seg]].append((0, first, speaker))
        for seg in content:  # then the innermost content
            by_sentence[sentence[seg]].append((1, len(content), speaker))
    tokens_of: dict[int, list[int]] = defaultdict(list)
    for t, k in enumerate(article.sentence_of):
        if article.upos[t] != "PUNCT":
            tokens_of[k].append(t)
    gold: list[str | None] = []
    for k in range(len(article.texts)):
        words = tokens_of[k]
        if any(article.caption[t] for t in words):
            gold.append(None)  # a figure caption or credit, not the article's prose
        elif by_sentence[k]:
            gold.append(min(by_sentence[k])[2])
        elif words and all(article.quoted[t] for t in words):
            gold.append(None)  # a quotation GUM attributes to nobody: its speaker is not given
        else:
            gold.append(NARRATION)
    for k in range(len(gold) - 1):
        # "Rathbun stated," before a quotation: GUM attributes within a sentence only.
        if gold[k] == NARRATION and gold[k + 1] is None and article.texts[k].rstrip()[-1:] in ",:":
            gold[k] = None
    return gold


def article_mapping(article: Article, project: SpeakerMapping) -> SpeakerMapping:
    """The article's mapping: its named entities, with the project's pronouns and cues."""
    names = names_of(article)
    entries = [NameEntry(name, eid) for name, eid in sorted(names.items())]
    speakers = [*sorted(set(names.values())), OTHER, NARRATION]
    return SpeakerMapping(entries, project.same_source, speakers, "GUM", project.cues)


def parsed_attribution(
    article: Article, k: int, mapping: SpeakerMapping, context: Context, people: dict
) -> Attribution | None:
    """Sentence ``k``'s explicit attribution read off GUM's gold dependency tree: the subject of a
    cue verb (a verb of believing or finding only with a clausal complement), or what "according
    to" heads. The upper bound of what a parser adds to the rules, not a parser."""
    tokens = [t for t, s in enumerate(article.sentence_of) if s == k]
    children: dict[int, list[int]] = defaultdict(list)
    for t in tokens:
        children[article.head[t]].append(t)

    def phrase(top: int, leave: set[int] = frozenset()) -> str:
        below, stack = [], [top]
        while stack:
            t = stack.pop()
            below.append(t)
            stack += children[t]
        return " ".join(article.words[t] for t in sorted(below) if t not in leave)

    cues = mapping.cues
    for t in tokens:
        word, kids = article.words[t], children[t]
        if article.lemma[t] == "accord" and article.head[t] >= 0:
            to = {c for c in kids if article.words[c].lower() == "to"}
            if to:
                found = rules._source(mapping, [phrase(article.head[t], {t, *to})], context,
                                      "according to", people)  # fmt: skip
                if found is not None:
                    return found
        thinks = word in cues.before_that and any(article.deprel[c] == "ccomp" for c in kids)
        if article.upos[t] != "VERB" or not (word in cues.verbs or thinks):
            continue
        subject = next((c for c in kids if article.deprel[c] == "nsubj"), None)
        if subject is not None:
            found = rules._source(mapping, [phrase(subject)], context, word, people)
            if found is not None:
                return found
    return None


def with_gold_parse(article: Article, mapping: SpeakerMapping) -> list[str]:
    """The rules' speakers, with the gold tree's attribution where the rules find none."""
    sentence = iter(range(len(article.texts)))  # the rules read each sentence once, in order
    regex = rules.explicit_attribution

    def explicit(shape: QuoteShape, mapping: SpeakerMapping, context, people) -> Attribution:
        k = next(sentence)
        return regex(shape, mapping, context, people) or parsed_attribution(
            article, k, mapping, context, people
        )

    with mock.patch.object(rules, "explicit_attribution", explicit):
        return [a.speaker for a in attribute_article(article.texts, article.starts, mapping)]


def cluster_interval(
    values: list[np.ndarray], statistic, n: int, level: float, seed: int
) -> tuple[float, float]:
    """Percentile interval of ``statistic`` over articles resampled with replacement."""
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(n):
        picked = rng.integers(0, len(values), len(values))
        draws.append(statistic(np.concatenate([values[i] for i in picked], axis=1)))
    alpha = (1 - level) / 2
    return float(np.quantile(draws, alpha)), float(np.quantile(draws, 1 - alpha))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gum", required=True, help="a clone of github.com/amir-zeldes/gum")
    parser.add_argument("--project", default=".", help="the project whose pronouns and cues")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    parser.add_argument("--errors", help="write the rules' sentences and gold to this TSV")
    args = parser.parse_args()
    gum, root = Path(args.gum), Path(args.project).resolve()
    config = load_config(root / "config" / "config.yaml")
    project = mapping_from_config(config, root)
    settings = EvalSettings.from_config(config)
    # (articles, method) -> per article (gold, predicted); GUM's own train / dev+test split.
    rows: dict[tuple[str, str], list[np.ndarray]] = defaultdict(list)
    out, left_out = [], 0
    for conllu in sorted((gum / "dep").glob("GUM_news_*.conllu")):
        article = read_conllu(conllu)
        read_xml(gum / "xml" / f"{article.name}.xml", article)
        read_mentions(gum / "coref" / "gum" / "conll" / f"{article.name}.conll", article)
        mapping = article_mapping(article, project)
        gold = gold_speakers(gum / "rst" / "rstweb" / f"{article.name}.rs4", article,
                             {e.speaker for e in mapping.entries})  # fmt: skip
        found = [a.speaker for a in attribute_article(article.texts, article.starts, mapping)]
        naive = [naive_speaker(text, mapping) for text in article.texts]
        parsed = with_gold_parse(article, mapping)
        scored = [k for k, g in enumerate(gold) if g is not None]
        left_out += len(gold) - len(scored)
        methods = (("rules", found), ("naive", naive), ("rules + gold parse", parsed))
        for method, predicted in methods:
            pairs = np.array([[gold[k] for k in scored], [predicted[k] for k in scored]], object)
            for part in ("all", article.split):
                rows[part, method].append(pairs)
        for g, p, t in zip(gold, found, article.texts, strict=True):
            out.append((article.name, g or "-", p, t))
    if args.errors:
        lines = ["article\tgold\trules\ttext", *("\t".join(r) for r in out)]
        Path(args.errors).write_text("\n".join(lines) + "\n", encoding="utf-8")

    def accuracy(pairs: np.ndarray) -> float:
        return float(np.mean(pairs[0] == pairs[1]))

    def attributed_f1(pairs: np.ndarray) -> float:
        gold, pred = pairs[0] != NARRATION, pairs[1] != NARRATION
        tp = np.sum(gold & pred)
        return float(2 * tp / max(np.sum(gold) + np.sum(pred), 1))

    def source_accuracy(pairs: np.ndarray) -> float:
        attributed = pairs[0] != NARRATION
        return float(np.mean(pairs[0][attributed] == pairs[1][attributed]))

    first = np.concatenate(rows["all", "rules"], axis=1)
    print(
        f"{len(rows['all', 'rules'])} articles, {first.shape[1]} sentences, "
        f"{int(np.sum(first[0] != NARRATION))} attributed by GUM; {left_out} captions and "
        "unattributed quotations left out\n"
    )
    print("| articles | method | sentences | accuracy [95% CI] | attributed F1 [95% CI] "
          "| source accuracy [95% CI] |")  # fmt: skip
    print("| --- | --- | ---: | --- | --- | --- |")
    figures = {}
    for (part, method), per_article in sorted(rows.items(), key=lambda r: r[0][0] != "all"):
        pooled = np.concatenate(per_article, axis=1)
        cells = []
        for key, statistic in (("accuracy", accuracy), ("attributed_f1", attributed_f1),
                               ("source_accuracy", source_accuracy)):  # fmt: skip
            low, high = cluster_interval(
                per_article,
                statistic,
                settings.n_bootstrap,
                settings.ci_level,
                settings.seed,
            )
            figures[f"{part}_{method}_{key}"] = [statistic(pooled), low, high]
            cells.append(f"{statistic(pooled):.3f} [{low:.3f}, {high:.3f}]")
        print(
            f"| {part} ({len(per_article)}) | {method} | {pooled.shape[1]} | "
            + " | ".join(cells)
            + " |"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
