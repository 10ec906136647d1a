"""Rule-based attribution: reporting verbs, "according to", quotations and context, per article."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

from stance.speakers.mapping import MAX_SENTENCE_CHARS, NARRATION, Mention, SpeakerMapping
from stance.speakers.pointers import (
    NAME,
    POINTERS,
    Context,
    people_named,
    phrase_pronoun,
    surnames_of,
    titles_of,
)
from stance.speakers.quotes import MASK, QuoteShape, article_shapes

# "was reported to", "been told": a passive verb names no source before it.
_PASSIVE = re.compile(r"\b(?:was|were|been|be|being|is|are)\s+(?:(?:\w+ly|not|never|twice|once|"
                      r"also|still|already|then)\s+)*$", re.IGNORECASE)  # fmt: skip
# A verb coordinated with a passive shares it: "was hauled in and told", "were encouraged to
# submit designs and suggest".
_PASSIVE_AND = re.compile(r"\b(?:was|were|been|be|being|is|are)\s+(?:\w+ly\s+)?\w+(?:ed|en|wn)\b"
                          r"[^,;:]*\s(?:and|or)\s+$", re.IGNORECASE)  # fmt: skip
# After a determiner, a possessive or "of" a cue word is a noun: "the report", "secretary of
# state", "its reply" (a verb after "that" can be a relative clause's: "officials that said");
# after "from" it is a gerund whose subject is not the source ("banning migrants from claiming").
_NOUN_BEFORE = re.compile(
    r"(?:\b(?:the|a|an|its|his|her|their|our|your|my|these|those|of|from)|['’]s)\s+$",
    re.IGNORECASE,
)
# Where a source phrase ends, going back from its verb or forward from "according to".
_SEGMENT_BREAK = re.compile(r",|;|:|—|–|--|\(|\)|\bthat\b")
# A name after these words is what the source talks about: "a source close to the Taliban".
_TOPIC_BEFORE = re.compile(r"\b(?:about|against|with|over|to|towards?|on|into|regarding|"
                           r"concerning)\s+(?:the\s+|an?\s+)?$", re.IGNORECASE)  # fmt: skip
# A short noun phrase of lowercase words: "officials", "a senior official", "the report".
_COMMON_SOURCE = re.compile(r"^(?!(?:despite|after|before|in|on|at|while|with|since|but|and|or|"
    r"so|as|for|from|by|of|to|during|if|when|because|though|although|not|never)\b)"
    r"(?:(?:the|an?|some|many|several)\s+)?(?:[a-z]+\s+){0,2}[a-z]{3,}$",
    re.IGNORECASE)  # fmt: skip
# A conjunction that links a subject to what came before: "but media have said".
_LINK = re.compile(r"^(?:but|and|yet|so)\s+(?=\S)", re.IGNORECASE)
# Between two names of one noun phrase there is no conjunction or preposition.
_NOT_SAME_PHRASE = re.compile(r"\b(?:and|or|of|for|in|at|from|by|on|with|to|about|against|over|"
                              r"near|than|as|but|nor)\b", re.IGNORECASE)  # fmt: skip
_COORDINATION = re.compile(r"\b(?:and|or|nor)\b|&", re.IGNORECASE)
# Auxiliaries and adverbs before a verb belong to it: "Valeska Paris, a former member, has
# also claimed" has the source before the appositive, not in "has also".
_VERB_GROUP = re.compile(r"(?:\b(?:has|have|had|will|would|should|could|may|might|must|can|did|"
                         r"does|do|also|again|later|earlier|previously|reportedly|repeatedly|"
                         r"publicly|recently)\s*)+$")  # fmt: skip
_RELATIVE = re.compile(r"^\s*(?:who|whom|whose|which|where|when)\b", re.IGNORECASE)
# Capitalised words that open a clause rather than name a source.
_OPENERS = frozenset((
    "The", "A", "An", "This", "That", "These", "Those", "But", "And", "Or", "So", "Still", "Yet",
    "However", "Meanwhile", "Additionally", "Also", "In", "On", "At", "After", "Before", "While",
    "When", "Since", "Though", "Although", "Despite", "During", "Echoing", "Citing", "Months", "It",
    "It’s", "It's", "Its", "Their", "There", "Then", "Now", "Several", "Some", "Any", "Many",
    "Most"
))  # fmt: skip
# Right after a mapped name: title words (group "roles"), then a person's two to four names.
_INTRODUCED = re.compile(r"(?:[’']s)?((?:\s+[a-z]+)*?)((?:\s+[A-Z][\w’'-]+){2,4})")
# A full name alone in an appositive, after a verb of saying or not: ", Sher Mohammad Stanikzai,".
_BARE_NAME = re.compile(r"^(?:(?P<v>[a-z]+)\s+)?(?P<name>[A-Z][\w’'-]+(?:\s+[A-Z][\w’'-]+){1,4})$")
# A headline that quotes before or after a colon: "‘Our goal is …’: Taliban seeks talks".
_QUOTE_FIRST = re.compile(r"^\s*(?:[‘“\"']|``)[^:]+?(?:[’”\"']|'')\s*:\s+(?P<rest>\S.*)$")
_QUOTE_AFTER = re.compile(r"^\s*(?P<rest>[^:‘’“”\"']{1,80}?)\s*:\s*(?:[‘“\"']|``)")
# After a verb of believing or finding: "that", or a quotation ("concluded, “…”").
_THAT = re.compile(rf"\s+that\b|[,:]?\s*{MASK}")
# A clause, a colon, then a quotation or the end of the sentence.
_COLON_QUOTE = re.compile(rf"^([^:{MASK}]+):\s*(?:{MASK}|$)")
# A lowercase word that is not a function word: "Obama tweeted", unlike "Troops and the US".
_PREDICATE = re.compile(r"(?<![\w-])(?!(?:and|or|nor|but|the|an?|of|for|in|at|on|to|with|"
                        r"from|by)\b)[a-z]{2,}")  # fmt: skip

# What decided an attribution (else "narration").
EXPLICIT = ("attribution", "unmapped_source")
CONTEXT = ("quote_group", "quote_continuation", "block_quote", "refers_back", "paragraph")


@dataclass(frozen=True)
class Attribution:
    """The rules' speaker of one sentence, why (``evidence``), and which rule (``kind``)."""

    speaker: str
    evidence: str
    kind: str
    # The speaker of the first mapped name outside quotations (a learned-model feature).
    first_mention: str = "none"
    source: str = ""  # the source phrase of an explicit attribution ("the Taliban spokesman")


def introduced(
    shapes: Sequence[QuoteShape], mentions: Sequence[Sequence[Mention]], mapping: SpeakerMapping
) -> dict[str, str]:
    """The people an article introduces with a mapped name and a title ("Taliban spokesman
    Zabihullah Mujahid"), by full name and surname, and the speaker they stand for; the surname
    of a mapped full name ("Zalmay Khalilzad") stands for its speaker too."""
    people: dict[str, str] = {}
    for shape, found_in in zip(shapes, mentions, strict=True):
        for mention in found_in:
            words = shape.outside[mention.start : mention.end].split()
            if len(words) > 1 and all(w[:1].isupper() for w in words):
                people.setdefault(words[-1], mention.entry.speaker)
            found = _INTRODUCED.match(shape.outside, mention.end)
            if found is None or not set(found[1].split()) <= mapping.cues.roles:
                continue
            names = [w for w in found[2].split() if w not in _OPENERS]
            if len(names) >= 2 and not mapping.mentions(" ".join(names)):
                for name in (" ".join(names), names[-1]):
                    people.setdefault(name, mention.entry.speaker)
        for name, speaker in _appositives(shape.outside, mapping):
            for key in (name, name.split()[-1]):
                people.setdefault(key, speaker)
    return people


def _appositives(text: str, mapping: SpeakerMapping) -> Iterator[tuple[str, str]]:
    """Full names beside an appositive with a title and a mapped name: "Zabihullah Mujahid, a
    Taliban spokesman," and "the head of the Taliban delegation, Sher Mohammad Stanikzai"."""
    pieces = [p.strip(" " + MASK) for p in text.split(",")]
    for k, bare in enumerate(map(_BARE_NAME.match, pieces)):
        if bare is None or (bare["v"] and not mapping.cues.is_verb(bare["v"])):
            continue
        if bare["name"].split()[0] in _OPENERS or mapping.mentions(bare["name"]):
            continue
        for other in pieces[max(k - 1, 0) : k] + pieces[k + 1 : k + 2]:
            head = other.split()[:8]  # a title and a mapped name open the appositive
            mentions = _named_sources(" ".join(head), mapping)
            if mentions and mapping.cues.roles & set(head[:6]) and len(other) < 200:
                yield bare["name"], mentions[0].entry.speaker
                break


def headline_quote(text: str, mapping: SpeakerMapping) -> Attribution | None:
    """A headline with a quotation and its speaker around a colon: "‘Our goal is to end
    invasion’: Taliban seeks talks" (the name opens the rest), "Taliban: ‘We will stay’"."""
    for form in (_QUOTE_FIRST, _QUOTE_AFTER):
        rest = found["rest"] if (found := form.match(text)) else ""
        m = next(iter(mapping.mentions(rest)), None) if rest else None  # most: no colon form
        opens = m is not None and rest[: m.start].strip() in ("", "The", "the")
        if opens and (form is _QUOTE_FIRST or not rest[m.end :].strip()):
            why = f"a quotation around a colon: {m.entry.name!r} -> {m.entry.speaker}"
            return Attribution(m.entry.speaker, why, "attribution")
    return None


def colon_quote(
    shape: QuoteShape, mapping: SpeakerMapping, context: Context, people: dict[str, str]
) -> Attribution | None:
    """A clause before a colon and a quotation, without a cue: its named source ("Obama tweeted
    from his account: “…”", "She continued:" at a sentence's end, the quotation after it)."""
    lead = _COLON_QUOTE.match(shape.outside)
    if lead is None or not _PREDICATE.search(lead[1]):
        return None  # "Troops and the Pentagon: “…”" names a topic, it has no predicate
    pieces = [p for p in reversed(_SEGMENT_BREAK.split(lead[1])) if p.strip()]
    found = _source(mapping, pieces, context, "a quotation after a colon", people)
    return found if found is not None and found.kind != "unmapped_source" else None


def _named_sources(piece: str, mapping: SpeakerMapping) -> list[Mention]:
    """The mapped names of a source phrase, less those it talks about ("close to the Taliban")."""
    return [m for m in mapping.mentions(piece) if not _TOPIC_BEFORE.search(piece[: m.start])]


def _head(piece: str, mentions: list[Mention]) -> Mention:
    """The last name of a phrase's first noun phrase: "Tunisia's coach Nabil Maaloul", but
    "US officials in Kabul" and "X and Y" name the first."""
    head = mentions[0]
    for m in mentions[1:]:
        if _NOT_SAME_PHRASE.search(piece[head.end : m.start]):
            break
        head = m
    # A full name that ends the phrase right after a long title is who the title describes:
    # "Executive director of the Dallas chapter of the Council … Alia Salem".
    last = mentions[-1]
    words = piece[last.start : last.end].split()
    before = piece[: last.start].split()[-1:]
    if (
        last is not head
        and not piece[last.end :].strip(" " + MASK)
        and len(words) > 1
        and all(w[:1].isupper() for w in words)
        and before
        and not _NOT_SAME_PHRASE.fullmatch(before[0])
        and not _COORDINATION.search(piece[head.end : last.start])
    ):
        return last
    return head


def _alone(pieces: Sequence[str], mapping: SpeakerMapping) -> Mention | None:
    """A mapped name that is all of its piece: the subject before an appositive ("Jeff Rathke,
    the State Department spokesperson, said")."""
    for piece in pieces:
        for m in mapping.mentions(piece):
            if not (piece[: m.start] + piece[m.end :]).strip(" " + MASK):
                return m
    return None


def _is_clause(words: Sequence[str]) -> bool:
    """Mostly lowercase words: a clause, not the long name of an appositive."""
    return sum(w[:1].isupper() for w in words) * 2 < len(words)


def _source(
    mapping: SpeakerMapping,
    pieces: Sequence[str],
    context: Context,
    verb: str,
    people: dict[str, str],
) -> Attribution | None:
    """The speaker the first clause pieces name: a mapped name, a person the article introduced
    (``people``), a word pointing back (resolved in ``context``), or a name not in the mapping
    (``other``)."""
    unmapped: str | None = None
    subject: str | None = None  # the nearest piece, when it names no mapped speaker
    for k, piece in enumerate(pieces[:3]):
        words = piece.strip().split()
        if k and subject is not None and len(words) > 4 and _is_clause(words):
            # "…the Clinton probe, officials said": a clause before the source is what was
            # said, not an appositive of who said it ("the U.S. Special Inspector General").
            unmapped = unmapped or subject
            break
        mentions = _named_sources(piece, mapping)
        person = next((w for w in NAME.findall(piece) if w.strip(".,’'") in people), None)
        alone = _alone(pieces[k + 1 : k + 2], mapping) if mentions or person else None
        if alone is not None and unmapped is None:
            who = alone.entry
            why = f"{verb}: {who.name!r} before the appositive {piece.strip()!r} -> {who.speaker}"
            return Attribution(who.speaker, why, "attribution", source=f"{who.name}, {piece}")
        if mentions:
            m = _head(piece, mentions).entry
            return Attribution(
                m.speaker,
                f"{verb}: {piece.strip()!r} names {m.name!r} -> {m.speaker}",
                "attribution",
                source=piece.strip(),
            )
        if person is not None and unmapped is None:
            who = people[person.strip(".,’'")]
            why = f"{verb}: {person!r} was introduced as {who}"
            return Attribution(who, why, "attribution", source=piece.strip())
        back = next(
            (n for n in range(min(3, len(words)), 0, -1)
             if mapping.refers_back(" ".join(words[:n]))
             or (n > 1 and words[0].lower() in POINTERS and words[n - 1] in mapping.cues.roles)),
            0,
        )  # fmt: skip
        if back and len(words) - back <= 2 and unmapped is None:
            pointer = " ".join(words[:back])
            speaker, why = context.resolve(pointer, mapping)
            if speaker is None:
                return None
            return Attribution(speaker, f"{verb}: {pointer!r} {why}", "refers_back", source=pointer)
        if unmapped is None and any(w.strip(".") not in _OPENERS for w in NAME.findall(piece)):
            unmapped = piece.strip()
        elif unmapped is None and len(words) > 6:
            break  # a long clause without a name is not an appositive of the source
        if k == 0:
            subject = piece.strip()
    if unmapped is None and subject is not None:
        # "officials said", "but media have said", "according to the event website.": a
        # source without a name.
        subject = _LINK.sub("", subject).rstrip(".!?…")
        unmapped = subject if _COMMON_SOURCE.match(subject) else None
    if unmapped is None:
        return None
    return Attribution(
        "other",
        f"{verb}: {unmapped!r} is a source not in the mapping -> other",
        "unmapped_source",
        source=unmapped,
    )


def _clause_after(text: str, end: int) -> list[str]:
    """The clause right after a cue, up to a quotation or a break."""
    return [_SEGMENT_BREAK.split(text[end:].split(MASK)[0])[0]]


def explicit_attribution(
    shape: QuoteShape,
    mapping: SpeakerMapping,
    context: Context,
    people: dict[str, str],
) -> Attribution | None:
    """The source named by a reporting verb or "according to" outside quotations, if any."""
    text = shape.outside
    cues = mapping.cues
    for match in cues.pattern.finditer(text):
        verb = match.group("word")
        before = text[: match.start()]
        thinks = verb in cues.before_that and _THAT.match(text, match.end())
        if verb is not None and (
            not (cues.is_verb(verb) or thinks)
            or _PASSIVE.search(before)
            or _PASSIVE_AND.search(before)
            or _NOUN_BEFORE.search(before)
        ):
            continue
        if verb is None:
            phrase = match.group("phrase").lower()
            after = _clause_after(text, match.end())
            found = _source(mapping, after, context, phrase, people)
        else:
            region = before.rsplit(MASK, 1)[-1]
            # The clause pieces before the verb, nearest first (relative clauses left out).
            pieces = [
                p
                for p in reversed(_SEGMENT_BREAK.split(_VERB_GROUP.sub("", region)))
                if p.strip() and not _RELATIVE.match(p)
            ]
            found = _source(mapping, pieces, context, verb, people)
            if found is None and not region.strip(" ,") and verb.lower() not in cues.listener:
                # Inverted: '“...,” said the head of the Taliban delegation'.
                after = _clause_after(text, match.end())
                found = _source(mapping, after, context, verb, people)
        if found is not None:
            return found
    return None


def attribute_article(
    texts: Sequence[str], paragraph_starts: Sequence[bool], mapping: SpeakerMapping
) -> list[Attribution]:
    """The rules' speaker of every sentence of one article, in order (the rules and their
    precedence: docs/speakers.md); each sentence is read up to MAX_SENTENCE_CHARS characters."""
    texts = [text[:MAX_SENTENCE_CHARS] for text in texts]
    shapes = article_shapes(texts, paragraph_starts)

    mentions = [mapping.mentions(shape.outside) for shape in shapes]
    people = introduced(shapes, mentions, mapping)
    # Surnames whose full name in the article tells "he" or "she" ("Hillary Clinton").
    full_names = [s.outside[m.start : m.end] for s, ms in zip(shapes, mentions, strict=True)
                  for m in ms]  # fmt: skip
    surnames = surnames_of([*full_names, *(name for name in people if " " in name)])
    out: list[Attribution] = []
    last_speaker: str | None = None  # the latest non-narration speaker of the article
    latest_for: dict[str, str] = {}  # "he"/"she" -> the latest source that pronoun fits
    titled: dict[str, str] = {}  # title -> the speaker of the latest source with it
    i = 0
    while i < len(texts):
        # A quote group: the sentences joined by a quotation that runs over a sentence boundary
        # (each one after the first starts inside it).
        end = i + 1
        while end < len(texts) and shapes[end].starts_inside:
            end += 1
        members = range(i, end)
        # "He cited …" after narration that names a person is that person's, not the latest
        # source's; later members of a quote group follow a quotation, not narration.
        context = Context(last_speaker, dict(latest_for), (), dict(titled))
        contexts = dict.fromkeys(members, context)
        if i and not paragraph_starts[i] and out[-1].speaker == NARRATION:
            named = people_named(shapes[i - 1].outside, mentions[i - 1], people, surnames)
            contexts[i] = replace(context, named=named)
        own = {
            j: explicit_attribution(shapes[j], mapping, contexts[j], people)
            or headline_quote(texts[j], mapping)
            or colon_quote(shapes[j], mapping, contexts[j], people)
            for j in members
        }
        for a in own.values():
            if a is not None and a.source:
                titled.update(dict.fromkeys(titles_of(a.source, mapping), a.speaker))
                pronoun = phrase_pronoun(a.source, surnames)
                for fits in ("he", "she"):
                    if pronoun in (None, fits):
                        latest_for[fits] = a.speaker
        source = next((j for j in members if own[j] is not None), None)
        found = own[source] if source is not None else None
        for j in members:
            prev = out[-1] if out else None
            spoken = prev is not None and prev.speaker != NARRATION
            result = own[j]
            if result is None and found is not None and len(members) > 1:
                result = Attribution(
                    found.speaker,
                    f"in the quotation attributed at position {source}: {found.evidence}",
                    "quote_group",
                )
            if result is None and spoken and shapes[j].all_quoted:
                result = Attribution(
                    prev.speaker,
                    f"a quotation without attribution after a sentence of {prev.speaker} "
                    f"(position {j - 1})",
                    "quote_continuation",
                )
            # A block quotation: the paragraph after an attributed line that ends in ':'.
            block = spoken and paragraph_starts[j] and texts[j - 1].rstrip().endswith(":")
            if result is None and block:
                result = Attribution(
                    prev.speaker, f"block quotation introduced at position {j - 1}", "block_quote"
                )
            if result is None and prev is not None and not paragraph_starts[j]:
                words = texts[j].split(maxsplit=1)
                if prev.kind == "block_quote":
                    result = Attribution(prev.speaker, prev.evidence, "block_quote")
                elif spoken and words and mapping.refers_back(words[0]):
                    result = Attribution(
                        prev.speaker,
                        f"the paragraph goes on about {prev.speaker}'s report ({words[0]!r})",
                        "paragraph",
                    )
            if result is None:
                result = Attribution(NARRATION, "no attributed source: narration", "narration")
            first = mentions[j][0].entry.speaker if mentions[j] else "none"
            out.append(replace(result, first_mention=first))
            if result.speaker != NARRATION:
                last_speaker = result.speaker
        i = end
    return out
