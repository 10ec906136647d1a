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
from stance.corpus.dates import find_date, parse_table_date
from stance.corpus.metadata import read_metadata
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
    with pytest.raises(StanceError, match=r"front\.html: no article text found"):
        add_sources([page], seeds)
    assert sorted(p.name for p in seeds.iterdir()) == ["a1.txt"]


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
    assert f"{EXPORT_BAD_LINE} line 3: not valid JSON" in message
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


def test_add_keeps_existing_rows_and_cli_prints_the_metadata(seeds: Path, capsys, monkeypatch):
    (seeds / "articles.csv").write_text("article_id,outlet\na1,Kept Outlet\n", encoding="utf-8")
    config = seeds.parent / "config.yaml"
    shutil.copy(Path(__file__).parents[1] / "config" / "config.yaml", config)
    text = config.read_text(encoding="utf-8").replace("seeds_dir: seeds", f"seeds_dir: {seeds}")
    config.write_text(text, encoding="utf-8")
    assert main(["add", "--config", str(config), str(PAGE)]) == 0
    out = capsys.readouterr().out
    assert "(article ID saved_page); title 'Taliban urge US" in out and "date '2020-03-04'" in out
    table = _table(seeds)
    assert table.loc["a1", "outlet"] == "Kept Outlet"
    assert table.loc["saved_page", "outlet"] == "Example News"


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
    ],
)
def test_metadata_table_problems_name_file_row_and_fix(seeds: Path, content: str, expected: str):
    path = seeds / "articles.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(StanceError) as err:
        read_metadata(path, {"a1"})
    assert f"{path} {expected}" in str(err.value)


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
    assert "seeds/articles.csv row 2: article 'no_such_article' is not in the corpus" in (
        proc.stdout + proc.stderr
    )
