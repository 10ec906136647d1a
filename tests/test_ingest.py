"""Articles with metadata: `stance add` of web pages and JSON Lines, the metadata table, dates."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from helpers import run_snakemake

from stance.cli.main import main
from stance.corpus.adding import add_sources
from stance.corpus.articles import discover
from stance.corpus.metadata import find_date, parse_table_date, read_metadata
from stance.corpus.stage import gather_article_tables, split_shard
from stance.errors import StanceError

DATA = Path(__file__).parent / "data" / "ingest"
PAGE = DATA / "saved_page.html"
EXPORT = DATA / "export.jsonl"
EXPORT_BAD_LINE = DATA / "export_bad_line.jsonl"


@pytest.fixture
def seeds(tmp_path: Path) -> Path:
    folder = tmp_path / "seeds"
    folder.mkdir()
    (folder / "a1.txt").write_text("The Taliban demanded a withdrawal.\n", encoding="utf-8")
    return folder


def _table(seeds: Path) -> pd.DataFrame:
    return pd.read_csv(seeds / "articles.csv", dtype=str, keep_default_na=False).set_index(
        "article_id"
    )


# --------------------------------------------------------------------------- saved web pages


def test_saved_page_gives_main_text_and_metadata_without_chrome(seeds: Path):
    added = add_sources([PAGE], seeds)
    assert [(a, row["date"]) for _, a, row in added.articles] == [("saved_page", "2020-03-04")]
    text = (seeds / "saved_page.txt").read_text(encoding="utf-8")
    assert "keep its promise to withdraw all foreign troops" in text
    assert "leave together with the Americans or not at all." in text
    # Navigation, ticker, byline, related links and footer are not article text.
    chrome = ["Home", "Politics", "Skip to content", "Breaking News", "Jane Doe"]
    chrome += ["Most popular", "Floods hit", "Share this article", "All rights reserved"]
    for line in chrome:
        assert line not in text, line
    row = _table(seeds).loc["saved_page"]
    assert row["title"] == "Taliban urge US to honour troop withdrawal deal"
    assert row["outlet"] == "Example News"
    assert row["date"] == "2020-03-04"
    # No canonical URL in the page: the browser's "saved from" note gives it.
    assert row["url"] == "https://news.example.org/world/2020/03/04/taliban-talks"
    # The corpus and the table stay consistent: the plain-text article has its (empty) row.
    assert discover(seeds).article_ids == ["a1", "saved_page"]
    assert set(read_metadata(seeds / "articles.csv", {"a1", "saved_page"})) == {"saved_page"}


def test_page_added_twice_is_refused(seeds: Path, tmp_path: Path):
    add_sources([PAGE], seeds)
    copy = tmp_path / "copy of page.htm"
    shutil.copy(PAGE, copy)
    with pytest.raises(StanceError, match="same content as article 'saved_page'"):
        add_sources([copy], seeds)


def test_page_without_article_text_is_an_error(seeds: Path, tmp_path: Path):
    page = tmp_path / "front.html"
    page.write_text(
        "<html><head><title>Log in</title></head><body><script>go()</script></body></html>",
        encoding="utf-8",
    )
    with pytest.raises(StanceError, match=r"front\.html: no article text: navigation or a front"):
        add_sources([page], seeds)
    assert discover(seeds).article_ids == ["a1"]


def _page(head: str, body: str) -> str:
    return f"<html><head>{head}</head><body>{body}</body></html>"


NAV = (
    "<nav><ul>"
    + "".join(f"<li><a href='/s{i}'>Section {i}</a></li>" for i in range(8))
    + "</ul></nav>"
)
TEASERS = "".join(
    f"<div class='teaser'><h2><a href='/news/{i}'>Headline number {i} about the talks</a></h2>"
    f"<p>Officials in Doha said on Monday that the talks would go on for a week {i}.</p></div>"
    for i in range(10)
)
ARTICLE = (
    "<article><h1>Talks resume in Doha</h1>"
    "<p>Negotiators from both sides met again in Doha on Monday after a pause of two weeks.</p>"
    "<p>A spokesman said the delegations had agreed on an agenda for the next round of talks.</p>"
    "<p>Diplomats in the region said they expected a first result before the end of the month."
    "</p></article>"
)


@pytest.mark.parametrize(
    ("page", "why"),
    [
        # A site's front page: teasers with whole sentences, but it says it is a website.
        (
            _page(
                "<title>Example News</title><meta property='og:type' content='website'>",
                NAV + "<main>" + TEASERS + "</main>",
            ),
            "calls itself a 'website'",
        ),
        # The same front page, known by its address.
        (
            _page("<link rel='canonical' href='https://news.example.org/'>", NAV + TEASERS),
            "its address https://news.example.org/ is a site's front page",
        ),
        # Only navigation: menu entries, no sentences.
        (
            _page("<title>Sections</title>", NAV.replace("<nav>", "<div>") * 3),
            "read as sentences",
        ),
    ],
)
def test_navigation_or_a_front_page_is_not_an_article(
    seeds: Path, tmp_path: Path, page: str, why: str
):
    path = tmp_path / "front.html"
    path.write_text(page, encoding="utf-8")
    with pytest.raises(StanceError) as err:
        add_sources([path], seeds)
    assert f"{path}: no article text: navigation or a front page? (" in str(err.value)
    assert why in str(err.value)
    assert discover(seeds).article_ids == ["a1"]


def test_an_article_page_with_menus_is_an_article(seeds: Path, tmp_path: Path):
    path = tmp_path / "talks.html"
    head = "<title>Talks resume</title><meta property='og:type' content='article'>"
    path.write_text(_page(head, NAV + ARTICLE + "<footer>Copyright 2020</footer>"), "utf-8")
    add_sources([path], seeds)
    text = (seeds / "talks.txt").read_text(encoding="utf-8")
    assert "agreed on an agenda" in text and "Section 1" not in text


def test_a_page_date_comes_from_its_metadata_never_from_numbers_in_it(seeds: Path, tmp_path: Path):
    # No date in the page's metadata; years in the text and the footer are not its date.
    body = ARTICLE.replace("two weeks", "two weeks (the group was founded in 1995)")
    path = tmp_path / "undated.html"
    path.write_text(_page("<title>T</title>", body + "<footer>Copyright 2020</footer>"), "utf-8")
    dated = tmp_path / "dated.html"
    head = "<meta property='article:published_time' content='2019-05-06T10:00:00Z'>"
    dated.write_text(_page(head, ARTICLE.replace("Monday", "Tuesday")), "utf-8")
    added = add_sources([path, dated], seeds)
    assert [row["date"] for _, _, row in added.articles] == ["", "2019-05-06"]


def test_a_page_over_the_size_limit_is_refused(seeds: Path, tmp_path: Path):
    from stance.corpus.sources import MAX_PAGE_BYTES

    path = tmp_path / "huge.html"
    path.write_bytes(b"<html><body>" + b" " * MAX_PAGE_BYTES + b"</body></html>")
    with pytest.raises(StanceError, match=r"huge\.html: 20,971,5\d\d bytes, more than the 20,"):
        add_sources([path], seeds)


# --------------------------------------------------------------------------- JSON Lines


def test_jsonl_adds_one_article_per_line_with_its_metadata(seeds: Path):
    added = add_sources([EXPORT], seeds)
    ids = [a for _, a, _ in added.articles]
    # An article_id field is used (made safe); otherwise <file>_<line>. Blank lines are skipped.
    assert ids == ["doha-talks", "export_3", "export_4"]
    assert [s for s, _, _ in added.articles][1] == f"{EXPORT} line 3"
    assert (seeds / "doha-talks.txt").read_text(encoding="utf-8").splitlines() == [
        "The Taliban said all foreign troops must leave Afghanistan.",
        "US officials said a withdrawal depends on conditions.",
    ]
    table = _table(seeds)
    assert table.loc["doha-talks", "outlet"] == "Example Wire"  # trafilatura's `sitename`
    assert table.loc["doha-talks", "date"] == "2020-02-21"  # time of day dropped
    assert table.loc["export_3", "outlet"] == "Example Daily"
    assert table.loc["export_4", "title"] == "" and table.loc["export_4", "date"] == ""
    assert any("author ignored" in w for w in added.warnings)


def test_jsonl_bad_line_names_the_line_and_adds_nothing(seeds: Path, tmp_path: Path):
    text_file = tmp_path / "fine.txt"
    text_file.write_text("A fine article.\n", encoding="utf-8")
    with pytest.raises(StanceError) as err:
        add_sources([text_file, EXPORT_BAD_LINE], seeds)
    message = str(err.value)
    assert message.startswith("no article was added")
    assert f"{EXPORT_BAD_LINE} line 3 column 89: not valid JSON" in message
    assert "line 1" not in message and "line 4" not in message
    assert sorted(p.name for p in seeds.iterdir()) == ["a1.txt"]


def test_jsonl_line_separator_inside_a_string_is_no_line_break(seeds: Path, tmp_path: Path):
    # U+2028 and U+0085 may stand raw in a JSON string; only "\n" ends a JSON Lines line.
    export = tmp_path / "sep.jsonl"
    record = {"text": "Kabul said no.\u2028Envoys met\u0085again in Doha.", "title": "Talks"}
    export.write_text(json.dumps(record, ensure_ascii=False) + "\n", encoding="utf-8")
    added = add_sources([export], seeds)
    assert [a for _, a, _ in added.articles] == ["sep_1"]
    assert "again in Doha." in (seeds / "sep_1.txt").read_text(encoding="utf-8")
    assert _table(seeds).loc["sep_1", "title"] == "Talks"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('["a list"]', "a JSON list, not an object"),
        ('{"title": "No text"}', "no article text"),
        ('{"text": "   "}', "no article text"),
        ('{"text": "T.", "date": 20200221}', "field 'date' is a JSON int"),
        ('{"text": "T.", "date": "21/02/2020"}', "date '21/02/2020' is not a calendar date"),
        ('{"text": "T.", "date": "2020-02-30"}', "date '2020-02-30' is not a calendar date"),
        ('{"text": "T.", "url": "www.example.org"}', "url 'www.example.org' is not a web address"),
    ],
)
def test_jsonl_bad_record_is_named_by_line(seeds: Path, tmp_path: Path, line: str, expected: str):
    export = tmp_path / "export.jsonl"
    export.write_text('{"text": "A good first article."}\n' + line + "\n", encoding="utf-8")
    with pytest.raises(StanceError) as err:
        add_sources([export], seeds)
    assert f"{export} line 2: {expected}" in str(err.value)
    assert not (seeds / "articles.csv").exists()
    assert discover(seeds).article_ids == ["a1"]


def test_jsonl_fields_over_their_limits_are_refused_naming_the_limit(seeds: Path, tmp_path):
    export = tmp_path / "long.jsonl"
    lines = [
        json.dumps({"text": "A first text.", "title": "T" * 200_000}),
        json.dumps({"text": "A second text.", "outlet": "O" * 301}),
        json.dumps({"text": "A third text.", "url": "https://x.org/" + "u" * 2048}),
    ]
    export.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(StanceError) as err:
        add_sources([export], seeds)
    message = str(err.value)
    assert f"{export} line 1: the title is 200,000 characters long, more than the 1,000" in message
    assert f"{export} line 2: the outlet is 301 characters long, more than the 300" in message
    assert f"{export} line 3: the url is 2,062 characters long, more than the 2,048" in message
    assert not (seeds / "articles.csv").exists()


def test_jsonl_line_over_the_limit_is_refused(seeds: Path, tmp_path: Path):
    from stance.corpus.sources import MAX_JSONL_LINE_BYTES

    export = tmp_path / "big.jsonl"
    export.write_text(
        '{"text": "Fine."}\n' + json.dumps({"text": "x" * MAX_JSONL_LINE_BYTES}) + "\n", "utf-8"
    )
    with pytest.raises(StanceError) as err:
        add_sources([export], seeds)
    assert f"{export} line 2: 10,485,772 bytes, more than the 10,485,760 bytes (10 MiB)" in str(
        err.value
    )


@pytest.mark.parametrize("field", ["text", "title", "article_id"])
def test_jsonl_lone_surrogate_names_file_and_line(seeds: Path, tmp_path, capsys, field: str):
    export = tmp_path / "broken.jsonl"
    record = '{"text": "Fine text.", "' + field + '": "Kabul \\ud800 talks"}'
    if field == "text":
        record = '{"text": "Kabul \\ud800 talks"}'
    export.write_text('{"text": "A first article."}\n' + record + "\n", encoding="utf-8")
    config = _config(seeds)
    assert main(["add", "--config", str(config), str(export)]) == 2
    err = capsys.readouterr().err
    assert (
        f"{export} line 2: field '{field}' holds a lone surrogate ('\\ud800') at character 7" in err
    )
    assert "Traceback" not in err
    assert discover(seeds).article_ids == ["a1"]


def test_jsonl_text_may_hold_a_line_separator(seeds: Path, tmp_path: Path):
    # U+2028 is a line break to str.splitlines but an ordinary character inside a JSON string.
    export = tmp_path / "sep.jsonl"
    export.write_text('{"text": "One\u2028two."}\n{"text": "Three."}\n', encoding="utf-8")
    added = add_sources([export], seeds)
    assert [source for source, _, _ in added.articles] == [f"{export} line 1", f"{export} line 2"]


def test_jsonl_duplicate_of_corpus_article_is_refused(seeds: Path, tmp_path: Path):
    export = tmp_path / "dup.jsonl"
    export.write_text('{"text": "The Taliban demanded a withdrawal."}\n', encoding="utf-8")
    with pytest.raises(StanceError, match=r"dup.jsonl line 1: same content as article 'a1'"):
        add_sources([export], seeds)


def test_add_refuses_while_the_metadata_table_is_broken(seeds: Path):
    (seeds / "articles.csv").write_text("article_id,date\nnot_there,\n", encoding="utf-8")
    with pytest.raises(StanceError) as err:
        add_sources([PAGE], seeds)
    assert "fix the metadata table first" in str(err.value)
    assert "row 2: article 'not_there' is not in the corpus" in str(err.value)
    assert not (seeds / "saved_page.txt").exists()


def _config(seeds: Path) -> Path:
    """A copy of the project's configuration with seeds_dir pointing at ``seeds``."""
    config = seeds.parent / "config.yaml"
    shutil.copy(Path(__file__).parents[1] / "config" / "config.yaml", config)
    text = config.read_text(encoding="utf-8").replace("seeds_dir: seeds", f"seeds_dir: {seeds}")
    config.write_text(text, encoding="utf-8")
    return config


def test_add_keeps_existing_rows_and_cli_prints_the_metadata(seeds: Path, capsys, monkeypatch):
    (seeds / "articles.csv").write_text("article_id,outlet\na1,Kept Outlet\n", encoding="utf-8")
    config = _config(seeds)
    assert main(["add", "--config", str(config), str(PAGE)]) == 0
    out = capsys.readouterr().out
    assert "(article ID saved_page); title 'Taliban urge US" in out and "date '2020-03-04'" in out
    table = _table(seeds)
    assert table.loc["a1", "outlet"] == "Kept Outlet"
    assert table.loc["saved_page", "outlet"] == "Example News"


def test_renamed_ids_are_warned_about_one_line_each(seeds: Path, tmp_path: Path, capsys):
    (seeds / "same.txt").write_text("An article already there.\n", encoding="utf-8")
    same = tmp_path / "same.txt"
    same.write_text("Another article with the same name.\n", encoding="utf-8")
    export = tmp_path / "ids.jsonl"
    export.write_text('{"text": "Text one.", "article_id": "a/b"}\n', encoding="utf-8")
    assert main(["add", "--config", str(_config(seeds)), str(same), str(export)]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err == [
        f"warning: {same}: article ID 'same' changed to 'same_2' ('same' is taken by "
        f"{seeds / 'same.txt'})",
        f"warning: {export} line 1: article ID 'a/b' changed to 'a_b' (an ID holds only "
        "letters, digits, '.', '_' and '-' and starts with a letter or digit)",
    ]
    assert discover(seeds).article_ids == ["a1", "a_b", "same", "same_2"]


def test_a_long_article_id_is_cut_with_a_hash_and_stays_unique(seeds: Path, tmp_path: Path):
    from stance.corpus.articles import MAX_ID_LENGTH

    export = tmp_path / "long.jsonl"
    long_a, long_b = "x" * 299 + "a", "x" * 299 + "b"
    export.write_text(
        json.dumps({"text": "Text A.", "article_id": long_a})
        + "\n"
        + json.dumps({"text": "Text B.", "article_id": long_b})
        + "\n",
        encoding="utf-8",
    )
    added = add_sources([export], seeds)
    ids = [a for _, a, _ in added.articles]
    assert len(set(ids)) == 2 and all(len(a) == MAX_ID_LENGTH for a in ids)
    assert all(a.startswith("x" * 91 + "_") for a in ids)
    assert all(
        f"changed to '{a}'" in w and "at most 100 characters" in w
        for a, w in zip(ids, added.warnings, strict=True)
    )
    assert sorted(discover(seeds).article_ids) == sorted(["a1", *ids])


# --------------------------------------------------------------------------- the metadata table


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("title,date\nx,2020-01-01\n", "row 1: no 'article_id' column"),
        ("article_id,titel\na1,x\n", "row 1: unknown column 'titel'"),
        ("article_id,date\nghost,\n", "row 2: article 'ghost' is not in the corpus"),
        (
            "article_id,date\na1,2020-01-01\na1,\n",
            "row 3: a second row for article 'a1' (the first is row 2)",
        ),
        (
            "article_id,date\na1,9 Nov 2018\n",
            "row 2: date '9 Nov 2018' is not a calendar date; write it as YYYY-MM-DD",
        ),
        ("article_id,date\n,2020-01-01\n", "row 2: empty article_id"),
        ("article_id,title\na1,Kabul, Afghanistan\n", "row 2: 3 cells but 2 columns"),
        ("article_id,date\na1,0001-01-01\n", "row 2: date '0001-01-01' is before 1900"),
        ("article_id,date\na1,9999-12-31\n", "row 2: date '9999-12-31' is in the future"),
        (
            'article_id,title\na1,"Kabul talks\nghost,Other\n',
            'row 2 (line 2): not valid CSV (unexpected end of data): a quote (") opened in this '
            "row is not closed",
        ),
        (
            'article_id,title\na1,"Kabul talks\nghost,"Other"\n',
            "row 2 (line 2): not valid CSV (',' expected after '\"')",
        ),
        (
            'article_id,title\na1,"Kabul talks\nghost,Other"\n',
            'row 2: the title cell runs over a line break (from line 2): a quote (") left open',
        ),
        ("article_id,title\na1," + "T" * 1001 + "\n", "row 2: the title is 1,001 characters"),
        (
            "article_id,title\na1,T\nghost," + "T" * 200_000 + "\n",
            "row 3 (line 3): a cell longer than 131,072 characters; the longest cells allowed "
            "are: title 1,000, outlet 300, url 2,048 characters",
        ),
    ],
)
def test_metadata_table_problems_name_file_row_and_fix(seeds: Path, content: str, expected: str):
    path = seeds / "articles.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(StanceError) as err:
        read_metadata(path, {"a1"})
    assert f"{path} {expected}" in str(err.value)


def test_add_refuses_a_table_with_an_unclosed_quote_and_leaves_it_as_it_is(seeds: Path):
    (seeds / "a2.txt").write_text("Second article.\n", encoding="utf-8")
    table = seeds / "articles.csv"
    content = 'article_id,title\na1,"Kabul talks\na2,Other\n'
    table.write_text(content, encoding="utf-8")
    with pytest.raises(StanceError, match=r"articles\.csv row 2 \(line 2\): not valid CSV"):
        add_sources([PAGE], seeds)
    assert table.read_text(encoding="utf-8") == content
    assert not (seeds / "saved_page.txt").exists()


def test_a_metadata_table_that_is_a_folder_is_named(seeds: Path, capsys):
    (seeds / "articles.csv").mkdir()
    config = str(_config(seeds))
    assert main(["check-corpus", "--config", config]) == 2
    assert main(["add", "--config", config, str(PAGE)]) == 2
    err = capsys.readouterr().err
    assert err.count(f"{seeds / 'articles.csv'}: a folder, not a file") == 2
    assert "Traceback" not in err


def test_check_corpus_names_the_row_of_an_over_long_cell(seeds: Path, capsys):
    (seeds / "articles.csv").write_text("article_id,title\na1," + "T" * 140_000 + "\n", "utf-8")
    assert main(["check-corpus", "--config", str(_config(seeds))]) == 2
    err = capsys.readouterr().err
    assert f"error: {seeds / 'articles.csv'} row 2 (line 2): a cell longer than 131,072" in err


def test_metadata_table_lists_every_problem_at_once(seeds: Path):
    path = seeds / "articles.csv"
    path.write_text("article_id,date\nghost,\na1,2020-13-01\n", encoding="utf-8")
    with pytest.raises(StanceError) as err:
        read_metadata(path, {"a1"})
    assert "2 problem(s)" in str(err.value) and "row 2" in str(err.value)
    assert "row 3" in str(err.value)


def test_metadata_table_is_optional_and_not_an_article(seeds: Path):
    assert read_metadata(seeds / "articles.csv", {"a1"}) == {}
    (seeds / "articles.csv").write_text("article_id\na1\n", encoding="utf-8")
    found = discover(seeds)
    assert found.article_ids == ["a1"] and found.warnings == []


def test_dates():
    assert parse_table_date("2018-11-09") == dt.date(2018, 11, 9)
    assert parse_table_date("2018-11-09T22:21:00+03:00") == dt.date(2018, 11, 9)
    assert parse_table_date("09/11/2018") is None
    assert find_date("9 Nov, 2018 22:21") == dt.date(2018, 11, 9)
    assert find_date("By Jane Doe | March 4, 2020") == dt.date(2020, 3, 4)
    assert find_date("Updated: Feb. 15, 2020 at 10:00 a.m.") == dt.date(2020, 2, 15)
    assert find_date("Comments (3)") is None
    assert find_date("Load More 2020") is None
    assert find_date("31 Feb 2020") is None
    # Implausible dates are not publication dates.
    assert find_date("Founded 1 Jan 1850") is None
    assert find_date("Valid until 1 Jan 9999") is None


@pytest.mark.parametrize("date", ["0001-01-01", "1899-12-31", "9999-12-31"])
def test_jsonl_implausible_date_is_refused_with_its_line(seeds: Path, tmp_path: Path, date: str):
    export = tmp_path / "dates.jsonl"
    export.write_text(json.dumps({"text": "T.", "date": date}) + "\n", encoding="utf-8")
    with pytest.raises(StanceError, match=rf"dates\.jsonl line 1: date '{date}' is (before|in)"):
        add_sources([export], seeds)


# --------------------------------------------------------------------------- date from chrome


def _split_and_gather(tmp_path: Path, config: dict, metadata: str | None) -> pd.DataFrame:
    article = tmp_path / "seeds" / "rt.txt"
    article.parent.mkdir(exist_ok=True)
    article.write_text(
        "Breaking News\n9 Nov, 2018 22:21\n\nTaliban seek talks.\nNov. 10, 2018\n", "utf-8"
    )
    split_shard([article], config, tmp_path / "s.parquet", tmp_path / "c.tsv", tmp_path / "a.tsv")
    meta_path = None
    if metadata is not None:
        meta_path = tmp_path / "seeds" / "articles.csv"
        meta_path.write_text(metadata, encoding="utf-8")
    gather_article_tables(
        [str(tmp_path / "c.tsv")],
        [str(tmp_path / "a.tsv")],
        tmp_path / "chrome_report.tsv",
        tmp_path / "articles.tsv",
        meta_path,
    )
    return pd.read_csv(tmp_path / "articles.tsv", sep="\t", dtype=str, keep_default_na=False)


def test_removed_date_line_fills_a_missing_date_and_the_report_says_so(tmp_path, config):
    articles = _split_and_gather(tmp_path, config, "article_id,title\nrt,Taliban seek talks\n")
    row = articles.iloc[0]
    assert (row["title"], row["date"], row["date_source"]) == (
        "Taliban seek talks",
        "2018-11-09",
        "chrome line 2",
    )
    report = pd.read_csv(tmp_path / "chrome_report.tsv", sep="\t", keep_default_na=False)
    assert list(report["used_as"]) == ["", "date", ""]  # only the first date line is used
    assert list(report["line"]) == [1, 2, 5]


def test_table_date_wins_over_a_removed_date_line(tmp_path, config):
    articles = _split_and_gather(tmp_path, config, "article_id,date\nrt,2018-11-10\n")
    assert (articles.iloc[0]["date"], articles.iloc[0]["date_source"]) == ("2018-11-10", "table")
    report = pd.read_csv(tmp_path / "chrome_report.tsv", sep="\t", keep_default_na=False)
    assert set(report["used_as"]) == {""}


def test_no_metadata_table_still_fills_the_date(tmp_path, config):
    articles = _split_and_gather(tmp_path, config, None)
    assert articles.iloc[0]["date"] == "2018-11-09"
    assert articles.iloc[0]["title"] == ""


# --------------------------------------------------------------------------- the workflow


@pytest.mark.e2e
def test_metadata_flows_into_the_article_table_and_reruns_only_it(project_copy: Path):
    from test_workflow import job_counts

    targets = ["results/articles.tsv", "results/sentences.parquet"]
    run_snakemake(project_copy, *targets, "--cores", "2")
    articles = pd.read_csv(
        project_copy / "results/articles.tsv", sep="\t", dtype=str, keep_default_na=False
    ).set_index("article_id")
    seed_rt = "004_811fa3d8880d0689"
    assert articles.loc[seed_rt, "date"] == "2018-11-09"
    assert articles.loc[seed_rt, "date_source"] == "chrome line 2"
    assert articles.loc["002_db3340f86b654ce5", "title"].startswith("Taliban Warns NATO")
    report = pd.read_csv(project_copy / "results/chrome_report.tsv", sep="\t", dtype=str)
    used = report[report["used_as"] == "date"]
    assert list(zip(used["article_id"], used["text"], strict=True)) == [
        (seed_rt, "9 Nov, 2018 22:21")
    ]
    # A no-op stays a no-op.
    assert job_counts(run_snakemake(project_copy, *targets, "-n").stdout) == {}
    # Editing the metadata table re-runs the article table only.
    table = project_copy / "seeds" / "articles.csv"
    table.write_text(
        table.read_text(encoding="utf-8").replace(
            "000_ff9e3475df46ad76,,,,", "000_ff9e3475df46ad76,,Example Outlet,2017-08-15,"
        ),
        encoding="utf-8",
    )
    dry = run_snakemake(project_copy, *targets, "-n").stdout
    assert job_counts(dry) == {"article_table": 1}, dry
    run_snakemake(project_copy, *targets, "--cores", "2")
    articles = pd.read_csv(project_copy / "results/articles.tsv", sep="\t", dtype=str)
    first = articles.set_index("article_id").loc["000_ff9e3475df46ad76"]
    assert (first["outlet"], first["date"], first["date_source"]) == (
        "Example Outlet",
        "2017-08-15",
        "table",
    )
    # A broken table stops the rule with file, row and fix.
    table.write_text("article_id,date\nno_such_article,\n", encoding="utf-8")
    proc = run_snakemake(project_copy, *targets, "--cores", "1", check=False)
    assert proc.returncode != 0
    problem = "seeds/articles.csv row 2: article 'no_such_article' is not in the corpus"
    assert (proc.stdout + proc.stderr).count(problem) == 1  # printed once, not again and again


def test_jsonl_nested_too_deeply_is_a_message(seeds: Path, tmp_path: Path, capsys):
    export = tmp_path / "deep.jsonl"
    export.write_text('{"text": "Fine."}\n' + "[" * 100_000 + "]" * 100_000 + "\n", "utf-8")
    assert main(["add", "--config", str(_config(seeds)), str(export)]) == 2
    err = capsys.readouterr().err
    assert f"{export} line 2: JSON nested too deeply to read" in err and "Traceback" not in err
    assert discover(seeds).article_ids == ["a1"]
