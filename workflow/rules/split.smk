rule split_article:
    """Split one article into sentences and list the page chrome removed from it."""
    input:
        text=f"{SEEDS}/{{article}}.txt",
    output:
        sentences="results/split/{article}.parquet",
        chrome="results/split/{article}.chrome.tsv",
    params:
        stance=STANCE,
        config=CONFIG_FILE,
        # Re-split when the splitting rules change.
        split=config["split"],
    log:
        "logs/split/{article}.log",
    shell:
        "{params.stance} split --config {params.config:q} --article-id {wildcards.article:q}"
        " --input {input.text:q} --sentences {output.sentences:q} --chrome {output.chrome:q}"
        " 2> >(tee {log:q} >&2)"


rule gather_sentences:
    """Join the per-article tables into the sentence table of the corpus."""
    input:
        sentences=expand("results/split/{article}.parquet", article=ARTICLES),
        chrome=expand("results/split/{article}.chrome.tsv", article=ARTICLES),
    output:
        sentences="results/sentences.parquet",
        chrome=report(
            "results/chrome_report.tsv", caption="../report/chrome.rst", category="Corpus"
        ),
        articles=report(
            "results/articles.tsv", caption="../report/articles.rst", category="Corpus"
        ),
    params:
        stance=STANCE,
    log:
        "logs/gather_sentences.log",
    shell:
        "{params.stance} gather --sentences {input.sentences:q} --chrome {input.chrome:q}"
        " --out-sentences {output.sentences:q} --out-chrome {output.chrome:q}"
        " --out-articles {output.articles:q} 2> >(tee {log:q} >&2)"
