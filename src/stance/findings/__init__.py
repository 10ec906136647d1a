"""Findings: stance shares per speaker, outlet or month, with article-level uncertainty."""
