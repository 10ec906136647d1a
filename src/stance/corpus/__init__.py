"""Corpus stage: article files, page chrome, the sentence splitter, stable IDs, the split stage."""
