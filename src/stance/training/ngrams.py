"""TF-IDF blocks whose vocabulary is saved compactly, and CharWbTfidf: character n-grams within
words counted through the distinct words of the texts."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from numbers import Integral
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import CountVectorizer, TfidfTransformer, TfidfVectorizer
from sklearn.utils.validation import check_is_fitted

_CHUNK_ROWS = 4096  # texts whose n-gram counts are materialised at once to count them


class CompactVocabulary:
    """Saves a fitted ``vocabulary_`` as the terms in column order, one UTF-8 byte array and
    its offsets: skops writes a dict as one JSON node per entry (a 12 MB, slow model file for
    the seed labels' ~14,000 n-grams)."""

    def __getstate__(self) -> dict[str, Any]:
        # A copy: object.__getstate__ may return the instance's own __dict__.
        state = dict(super().__getstate__())  # type: ignore[misc]
        vocabulary = state.pop("vocabulary_", None)
        if vocabulary is not None:
            terms = sorted(vocabulary, key=vocabulary.__getitem__)  # scikit-learn's: columns 0..n-1
            encoded = [t.encode("utf-8") for t in terms]
            offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
            np.cumsum([len(b) for b in encoded], out=offsets[1:])
            state["vocabulary_utf8_"] = np.frombuffer(b"".join(encoded), dtype=np.uint8).copy()
            state["vocabulary_offsets_"] = offsets
        # The terms min_df/max_df dropped: for inspection only (scikit-learn's advice is to drop
        # them before saving), and possibly far more than the vocabulary.
        state.pop("stop_words_", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)
        blob = state.pop("vocabulary_utf8_", None)
        offsets = state.pop("vocabulary_offsets_", None)
        if blob is not None and offsets is not None:
            data = np.asarray(blob, dtype=np.uint8).tobytes()
            bounds = np.asarray(offsets, dtype=np.int64).tolist()
            if bounds[:1] != [0] or bounds[-1] != len(data) or bounds != sorted(bounds):
                raise ValueError("the saved vocabulary of a TF-IDF block is damaged")
            terms = [data[a:b].decode("utf-8") for a, b in itertools.pairwise(bounds)]
            state["vocabulary_"] = dict(zip(terms, range(len(terms)), strict=True))
        super().__setstate__(state)  # type: ignore[misc]


def kept_terms(df: np.ndarray, n_doc: int, min_df: float, max_df: float) -> np.ndarray:
    """Which terms of these document frequencies (in ``n_doc`` texts) a vectorizer keeps, as
    scikit-learn reads min_df/max_df (a whole number is a count of texts, a float a share) and
    with its errors; a term in no text is never kept."""
    high = max_df if isinstance(max_df, Integral) else max_df * n_doc
    low = min_df if isinstance(min_df, Integral) else min_df * n_doc
    if high < low:
        raise ValueError("max_df corresponds to < documents than min_df")
    keep = (df > 0) & (df <= high) & (df >= low)
    if not keep.any():
        raise ValueError("After pruning, no terms remain. Try a lower min_df or a higher max_df.")
    return keep


class CharWbTfidf(CompactVocabulary, TransformerMixin, BaseEstimator):
    """``TfidfVectorizer(analyzer="char_wb")``, the same matrix to the last bit (row values in
    its order, so norms sum alike), each distinct word analysed once: texts x words x n-grams."""

    _parameter_constraints: dict = {  # noqa: RUF012 (scikit-learn's convention)
        name: TfidfVectorizer._parameter_constraints[name]
        for name in ("ngram_range", "lowercase", "min_df", "max_df", "sublinear_tf", "dtype")
    }

    def __init__(
        self,
        *,
        ngram_range: tuple[int, int] = (1, 1),
        lowercase: bool = True,
        min_df: float = 1,
        max_df: float = 1.0,
        sublinear_tf: bool = False,
        dtype: Any = np.float64,
    ) -> None:
        self.ngram_range = ngram_range
        self.lowercase = lowercase
        self.min_df = min_df
        self.max_df = max_df
        self.sublinear_tf = sublinear_tf
        self.dtype = dtype

    def _ngrams(self, vocabulary: Any = None) -> CountVectorizer:
        # The words are preprocessed already: only their n-grams are taken.
        return CountVectorizer(
            analyzer="char_wb",
            ngram_range=self.ngram_range,
            lowercase=False,
            vocabulary=vocabulary,
            dtype=self.dtype,
        )

    def _words(self, texts: Iterable[Any]) -> tuple[sp.csr_matrix, list[str]]:
        """Texts x distinct words (as the char_wb analyser sees them: decoded, preprocessed, split
        at whitespace), and the words in order of first appearance (as scikit-learn meets them)."""
        if isinstance(texts, str):
            raise ValueError("Iterable over raw text documents expected, string object received.")
        reading = CountVectorizer(lowercase=self.lowercase)
        preprocess, decode = reading.build_preprocessor(), reading.decode
        index: dict[str, int] = {}
        columns: list[int] = []
        indptr = [0]
        add = index.setdefault
        for text in texts:
            columns.extend([add(word, len(index)) for word in preprocess(decode(text)).split()])
            indptr.append(len(columns))
        counts = sp.csr_matrix(
            (np.ones(len(columns), dtype=self.dtype), np.asarray(columns, dtype=np.int64), indptr),
            shape=(len(indptr) - 1, len(index)),
        )
        counts.sum_duplicates()
        return counts, list(index)

    def count_factors(
        self, texts: Iterable[Any]
    ) -> tuple[sp.csr_matrix, sp.csr_matrix, np.ndarray, list[str]]:
        """The two factors of the n-gram counts of ``texts``, texts x words and words x n-grams
        (nothing pruned); the n-grams of the columns (sorted) and the words of the rows."""
        words, distinct = self._words(texts)
        if not distinct:
            raise ValueError("empty vocabulary; perhaps the documents only contain stop words")
        counting = self._ngrams()
        grams = sp.csr_matrix(counting.fit_transform(distinct))
        return words, grams, counting.get_feature_names_out(), distinct

    def fit(self, raw_documents: Iterable[Any], y: Any = None) -> CharWbTfidf:
        """Learn the vocabulary and the IDF of ``raw_documents``."""
        self.fit_transform(raw_documents)
        return self

    def fit_transform(self, raw_documents: Iterable[Any], y: Any = None) -> Any:
        """Learn the vocabulary and the IDF; return the TF-IDF matrix of ``raw_documents``."""
        words, grams, terms, distinct = self.count_factors(raw_documents)
        n_doc = words.shape[0]
        df = np.zeros(grams.shape[1], dtype=np.int64)
        for start in range(0, n_doc, _CHUNK_ROWS):
            chunk = words[start : start + _CHUNK_ROWS] @ grams
            df += np.bincount(chunk.indices, minlength=grams.shape[1])
        keep = kept_terms(df, n_doc, self.min_df, self.max_df)
        columns = np.flatnonzero(keep)
        terms = terms[columns].tolist()
        grams = sp.csr_matrix(grams[:, columns])
        counts = _first_seen_order(sp.csr_matrix(words @ grams), grams, terms, distinct)
        self.vocabulary_ = dict(zip(terms, range(len(terms)), strict=True))
        self.tfidf_ = TfidfTransformer(sublinear_tf=self.sublinear_tf).fit(counts)
        return self.tfidf_.transform(counts, copy=False)

    def transform(self, raw_documents: Iterable[Any]) -> Any:
        """The TF-IDF matrix of ``raw_documents``; n-grams outside the vocabulary are left out."""
        check_is_fitted(self)
        words, distinct = self._words(raw_documents)
        counts = sp.csr_matrix(words @ self._ngrams(self.vocabulary_).transform(distinct))
        counts.sort_indices()  # as CountVectorizer.transform stores its counts
        return self.tfidf_.transform(counts, copy=False)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """The n-grams of the columns, in column order (a pipeline's feature names need it)."""
        check_is_fitted(self)
        return np.asarray(sorted(self.vocabulary_, key=self.vocabulary_.__getitem__), dtype=object)


def _first_seen_order(
    counts: sp.csr_matrix, grams: sp.csr_matrix, terms: list[str], words: list[str]
) -> sp.csr_matrix:
    """``counts`` with each row's values in the order TfidfVectorizer.fit_transform stores them:
    by first appearance, in the earliest word (``words``, the rows of ``grams``, are in order of
    first appearance) that has the n-gram, then by length, then from the left in that word."""
    by_term = sp.csc_matrix(grams)
    by_term.sort_indices()
    first_word = by_term.indices[by_term.indptr[:-1]]
    length = np.fromiter(map(len, terms), dtype=np.int64, count=len(terms))
    found = (f" {words[w]} ".find(t) for t, w in zip(terms, first_word.tolist(), strict=True))
    offset = np.fromiter(found, dtype=np.int64, count=len(terms))
    # The column of each rank, and the rank of each column.
    order = np.lexsort((offset, length, first_word)).astype(counts.indices.dtype)
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    ranked = sp.csr_matrix((counts.data, rank[counts.indices], counts.indptr), shape=counts.shape)
    ranked.sort_indices()
    return sp.csr_matrix((ranked.data, order[ranked.indices], ranked.indptr), shape=counts.shape)
