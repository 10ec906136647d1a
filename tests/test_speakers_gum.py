"""The GUM benchmark's reading of GUM's files (benchmarks/speakers_gum.py) on a made-up article in
GUM's formats: sentences, names from mentions, gold speakers from RST attribution."""

from __future__ import annotations

import sys
from pathlib import Path

from helpers import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
from speakers_gum import gold_speakers, names_of, read_conllu, read_mentions, read_xml

from stance.speakers.mapping import NARRATION

# (word, upos, head within the sentence, space after); one list per sentence, paragraphs by "|".
SENTENCES = [
    [("Jane", "PROPN", 2, 1), ("Smith", "PROPN", 3, 1), ("said", "VERB", 0, 1),
     ("taxes", "NOUN", 5, 1), ("rise", "VERB", 3, 0), (".", "PUNCT", 3, 1)],
    [('"', "PUNCT", 4, 0), ("We", "PRON", 4, 1), ("will", "AUX", 4, 1), ("win", "VERB", 0, 0),
     (".", "PUNCT", 4, 0), ('"', "PUNCT", 4, 1)],
    "|",
    [("The", "DET", 2, 1), ("Acme", "PROPN", 3, 1), ("Corp", "PROPN", 4, 1),
     ("grew", "VERB", 0, 0), (".", "PUNCT", 4, 1)],
    [("Image", "NOUN", 0, 0), (":", "PUNCT", 3, 1), ("NASA", "PROPN", 1, 0), (".", "PUNCT", 1, 1)],
]  # fmt: skip
# Per token: the entity brackets of GUM's coref CoNLL.
ENTITIES = [
    "(person-1", "person-1)", "", "(abstract-2)", "", "", "", "(person-1)", "", "", "", "",
    "(organization-3", "", "organization-3)", "", "", "", "", "(organization-4)", "",
]  # fmt: skip
RS4 = """<rst><header/><body>
<segment id="1" parent="2" relname="attribution-positive">Jane Smith said</segment>
<segment id="2" parent="6" relname="span">taxes rise .</segment>
<segment id="3" parent="6" relname="joint-other">" We will win . "</segment>
<segment id="4" parent="6" relname="joint-other">The Acme Corp grew .</segment>
<segment id="5" parent="4" relname="elaboration-additional">Image : NASA .</segment>
<group id="6" type="multinuc"/>
<signals><signal source="1" type="semantic" subtype="attribution_source" tokens="1,2"/></signals>
</body></rst>
"""


def write_article(root: Path) -> Path:
    conllu, xml = ["# newdoc id = GUM_news_toy"], ['<text id="GUM_news_toy" partition="test">']
    newpar = True
    for sentence in SENTENCES:
        if sentence == "|":
            newpar = True
            continue
        text = "".join(w + (" " if space else "") for w, _, _, space in sentence).strip()
        conllu += [*(["# newpar"] if newpar else []), f"# text = {text}"]
        caption = sentence[0][0] == "Image"
        xml += ["<figure>"] if caption else ["<quote>"] if sentence[0][0] == '"' else []
        for i, (word, upos, head, space) in enumerate(sentence, 1):
            misc = "_" if space else "SpaceAfter=No"
            conllu.append(f"{i}\t{word}\t{word.lower()}\t{upos}\t_\t_\t{head}\t_\t_\t{misc}")
            xml.append(f"{word}\t{upos}\t{word.lower()}")
        xml += ["</figure>"] if caption else ["</quote>"] if sentence[0][0] == '"' else []
        conllu.append("")
        newpar = False
    words = [w for s in SENTENCES if s != "|" for w, *_ in s]
    coref = [f"{i}\t{w}\t{e or '_'}" for i, (w, e) in enumerate(zip(words, ENTITIES, strict=True))]
    for folder, name, lines in (
        ("dep", "GUM_news_toy.conllu", conllu),
        ("xml", "GUM_news_toy.xml", [*xml, "</text>"]),
        ("coref/gum/conll", "GUM_news_toy.conll", ["# begin document GUM_news_toy", *coref]),
        ("rst/rstweb", "GUM_news_toy.rs4", [RS4]),
    ):
        (root / folder).mkdir(parents=True, exist_ok=True)
        (root / folder / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


def test_gold_speakers_names_and_left_out_sentences_from_gum_files(tmp_path: Path):
    gum = write_article(tmp_path)
    article = read_conllu(gum / "dep" / "GUM_news_toy.conllu")
    read_xml(gum / "xml" / "GUM_news_toy.xml", article)
    read_mentions(gum / "coref" / "gum" / "conll" / "GUM_news_toy.conll", article)
    assert article.texts[0] == "Jane Smith said taxes rise."
    assert article.starts == [True, False, True, False]
    names = names_of(article)
    # The proper nouns around each mention's head; the pronoun gives no name.
    assert names == {"Jane Smith": "person-1", "Acme Corp": "organization-3",
                     "NASA": "organization-4"}  # fmt: skip
    gold = gold_speakers(gum / "rst" / "rstweb" / "GUM_news_toy.rs4", article, set(names.values()))
    # The attribution's source; a quotation no attribution touches and a caption are left out
    # (None); a sentence no attribution touches is narration.
    assert gold == ["person-1", None, NARRATION, None]
    # A source without a proper name in the article is "other".
    gold = gold_speakers(gum / "rst" / "rstweb" / "GUM_news_toy.rs4", article, set())
    assert gold[0] == "other"
