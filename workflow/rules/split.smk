rule split_shard:
    """Split the articles of one shard into sentences; list the page chrome removed."""
    input:
        lambda wildcards: [f"{SEEDS}/{a}.txt" for a in SHARDS[int(wildcards.shard)]],
    output:
        sentences="results/split/shard-{shard}.parquet",
        chrome="results/split/shard-{shard}.chrome.tsv",
        articles="results/split/shard-{shard}.articles.tsv",
    params:
        cache="results/cache/split/shard-{shard}.json",
        # Re-split when the splitting rules or the corpus code change.
        split=config["split"],
        code=code_digest("corpus"),
    resources:
        mem_mb=2000,
        runtime=20,
    log:
        "logs/split/shard-{shard}.log",
    run:
        run_step(rule, input, output, params, wildcards, threads, log, config)


rule gather_sentences:
    """Join the per-shard tables into the sentence table of the corpus."""
    input:
        sentences=expand("results/split/shard-{shard}.parquet", shard=SHARDS),
    output:
        sentences="results/sentences.parquet",
    resources:
        mem_mb=4000,
        runtime=20,
    log:
        "logs/gather_sentences.log",
    run:
        run_step(rule, input, output, params, wildcards, threads, log, config)


rule article_table:
    """The article table with its metadata (seeds/articles.csv) and the chrome report."""
    input:
        chrome=expand("results/split/shard-{shard}.chrome.tsv", shard=SHARDS),
        articles=expand("results/split/shard-{shard}.articles.tsv", shard=SHARDS),
        # Optional: editing the table re-runs this rule only (nothing downstream reads it yet).
        metadata=METADATA if os.path.exists(METADATA) else [],
    output:
        chrome=report(
            "results/chrome_report.tsv", caption="../report/chrome.rst", category="Corpus"
        ),
        articles=report(
            "results/articles.tsv", caption="../report/articles.rst", category="Corpus"
        ),
    params:
        code=code_digest("corpus"),
    resources:
        mem_mb=2000,
        runtime=20,
    log:
        "logs/article_table.log",
    run:
        run_step(rule, input, output, params, wildcards, threads, log, config)
