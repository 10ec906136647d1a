"""Cached n-gram counts: each text of a table analysed once, then every CV fit learns its
vocabulary, IDF and speakers from its training rows' counts (the final model: Pipeline.fit)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, normalize
from sklearn.svm import LinearSVC

from stance.training.models import ModelSpec
from stance.training.ngrams import CharWbTfidf, kept_terms

_CHUNK_ROWS = 2048  # rows whose counts are materialised at once (more: more memory, no faster)
_COUNT_PARAMS = frozenset(CountVectorizer().get_params())


def _chunks(rows: np.ndarray) -> list[np.ndarray]:
    return [rows[i : i + _CHUNK_ROWS] for i in range(0, len(rows), _CHUNK_ROWS)]


@dataclass
class _BlockFit:
    """What one block of the features step learned from some rows."""

    block: _Block
    remap: np.ndarray  # column of the cache -> column of the fitted features (-1: not kept)
    n_features: int
    idf: np.ndarray | None = None


class _Block:
    """One block of the features step over the whole table: n-gram counts (character n-grams as
    two factors, CharWbTfidf.count_factors, multiplied out by chunks) or one-hot columns."""

    def __init__(self, transformer: Any, column: Any, weight: float | None) -> None:
        self.vectorizer = None if isinstance(transformer, OneHotEncoder) else transformer
        self.weight = weight
        self._counts: sp.csr_matrix | None = None
        if isinstance(transformer, CharWbTfidf):
            self._words, self._grams, self.terms, _ = transformer.count_factors(column.tolist())
            # An upper bound of each row's number of n-grams (each word's, summed).
            per_word = np.diff(self._grams.indptr).astype(np.float64)
            self.row_nnz = np.rint((self._words > 0) @ per_word).astype(np.int64)
            return
        if self.vectorizer is None:
            encoder = OneHotEncoder()
            self._counts = sp.csr_matrix(encoder.fit_transform(column))
            self.terms = encoder.categories_[0]
        else:
            params = {k: v for k, v in transformer.get_params().items() if k in _COUNT_PARAMS}
            params.update(min_df=1, max_df=1.0, max_features=None, dtype=np.float64)
            counting = CountVectorizer(**params)
            self._counts = sp.csr_matrix(counting.fit_transform(column.tolist()))
            self.terms = counting.get_feature_names_out()
        self.row_nnz = np.diff(self._counts.indptr).astype(np.int64)

    def counts(self, rows: np.ndarray) -> sp.csr_matrix:
        if self._counts is not None:
            return self._counts[rows]
        return sp.csr_matrix(self._words[rows] @ self._grams)

    def fit(self, rows: np.ndarray) -> tuple[_BlockFit, int]:
        """What the block's step learns from these rows, and the number of values they have."""
        df = np.zeros(len(self.terms), dtype=np.int64)
        for chunk in _chunks(rows):
            df += np.bincount(self.counts(chunk).indices, minlength=len(self.terms))
        vec = self.vectorizer
        if vec is None:
            keep, idf = df > 0, None
        else:
            if not df.any():
                raise ValueError("empty vocabulary; perhaps the documents only contain stop words")
            keep = kept_terms(df, len(rows), vec.min_df, vec.max_df)
            # The IDF as TfidfTransformer.fit computes it (smooth_idf), to the last bit.
            idf = np.log((len(rows) + 1) / (df[keep] + 1.0)) + 1.0
        remap = np.full(len(keep), -1, dtype=np.int32)
        remap[keep] = np.arange(int(keep.sum()), dtype=np.int32)
        # A row holds a value in a column when it has the term: the column's document count.
        return _BlockFit(self, remap, int(keep.sum()), idf), int(df[keep].sum())

    def weigh(self, fit: _BlockFit, x: sp.csr_matrix) -> sp.csr_matrix:
        """TfidfTransformer.transform (l2 norm), in place; one-hot columns stay as they are."""
        if fit.idf is None:
            return x
        if self.vectorizer.sublinear_tf:
            np.log(x.data, x.data)
            x.data += 1.0
        x.data *= fit.idf[x.indices]
        return normalize(x, copy=False)


class FittedFeatures:
    """The features step of a pipeline as fitted on some rows of a FeatureCache."""

    def __init__(self, fits: list[_BlockFit]) -> None:
        self.fits = fits
        self.n_features = sum(f.n_features for f in fits)
        self.sparse_output = True

    def _chunk(self, rows: np.ndarray) -> sp.csr_matrix:
        parts = []
        for fit in self.fits:
            block = fit.block
            counts = block.counts(rows)
            columns = fit.remap[counts.indices]
            data, indptr = counts.data, counts.indptr
            kept = columns >= 0
            if not kept.all():  # n-grams (or speakers) outside the fitted vocabulary
                before = np.concatenate(([0], np.cumsum(kept))).astype(indptr.dtype)
                data, columns, indptr = data[kept], columns[kept], before[indptr]
            x = sp.csr_matrix((data, columns, indptr), shape=(len(rows), fit.n_features))
            x = block.weigh(fit, x)
            if block.weight is not None:  # ColumnTransformer's transformer_weights
                x.data *= block.weight
            parts.append(x)
        return sp.csr_matrix(sp.hstack(parts, format="csr")) if len(parts) > 1 else parts[0]

    def _matrix(self, rows: np.ndarray, total: int | None) -> sp.csr_matrix:
        """The features of ``rows`` as one CSR matrix, a chunk of rows at a time; with ``total``
        values known, straight into arrays of the final size (never held twice)."""
        if len(rows) == 0:
            return sp.csr_matrix((0, self.n_features))
        if total is None:
            return sp.csr_matrix(sp.vstack([self._chunk(c) for c in _chunks(rows)], format="csr"))
        index_dtype = np.int32 if max(total, self.n_features) < 2**31 else np.int64
        indptr = np.zeros(len(rows) + 1, dtype=index_dtype)
        data = np.empty(total, dtype=np.float64)
        indices = np.empty(total, dtype=index_dtype)
        pos = start = 0
        for chunk in _chunks(rows):
            part = self._chunk(chunk)
            data[pos : pos + part.nnz] = part.data
            indices[pos : pos + part.nnz] = part.indices
            indptr[start + 1 : start + len(chunk) + 1] = part.indptr[1:] + pos
            pos += part.nnz
            start += len(chunk)
        return sp.csr_matrix((data, indices, indptr), shape=(len(rows), self.n_features))

    def transform(self, rows: np.ndarray) -> Any:
        """The features of any rows of the cache, as the fitted features step transforms them."""
        x = self._matrix(np.asarray(rows), None)
        return x if self.sparse_output else x.toarray()


class FeatureCache:
    """The features step of a model's pipeline over one table, every text analysed once."""

    def __init__(self, x: pd.DataFrame, pipeline: Pipeline) -> None:
        x = x.reset_index(drop=True)
        features = pipeline.named_steps["features"]
        self.sparse_threshold = features.sparse_threshold
        weights = features.transformer_weights or {}
        self.blocks = [
            _Block(transformer, x[columns], weights.get(name))
            for name, transformer, columns in features.transformers
        ]
        self.row_nnz = np.sum([b.row_nnz for b in self.blocks], axis=0)
        self.n_terms = sum(len(b.terms) for b in self.blocks)
        # Memory of a fit per stored value of its training matrix: the CSR matrix (8-byte value,
        # 4-byte column); LinearSVC (liblinear) copies it (16 bytes a value). Per feature and
        # class: the solver's vectors (L-BFGS keeps 2 x 10 past steps besides its own).
        liblinear = isinstance(pipeline.named_steps["classifier"], LinearSVC)
        self.bytes_per_value = 12 + (16 if liblinear else 0)
        self.solver_vectors = 4 if liblinear else 24

    @staticmethod
    def applies(spec: ModelSpec, x: pd.DataFrame) -> Pipeline | None:
        """The pipeline of ``spec`` if a cache can serve it: every block TF-IDF or one-hot of
        texts (the blocks of the registered kinds, models.py, whose parameters the cache reads)."""
        pipeline = spec.build(0)
        features = pipeline.named_steps.get("features")
        if features is None:
            return None
        for _, transformer, columns in features.transformers:
            if isinstance(transformer, OneHotEncoder):
                if not all(isinstance(v, str) for v in x[columns[0]].tolist()):
                    return None
            elif not isinstance(transformer, TfidfVectorizer | CharWbTfidf):
                return None
        return pipeline

    @staticmethod
    def build(spec: ModelSpec, x: pd.DataFrame) -> FeatureCache | None:
        """A cache for ``spec`` over ``x``, or None where it cannot serve (``applies``)."""
        pipeline = FeatureCache.applies(spec, x)
        return None if pipeline is None else FeatureCache(x, pipeline)

    def counting_memory(self, rows: np.ndarray) -> int:
        """Estimated peak bytes of the counts of one chunk of ``rows`` while they are built and
        weighed (~72 bytes a value before the vocabulary drops any: the intermediate copies)."""
        chunk = self.row_nnz[rows[:_CHUNK_ROWS]]
        return int(chunk.sum()) * 72 + self.n_terms * 8

    def memory(self, n_values: int, rows: np.ndarray, test: np.ndarray, n_classes: int) -> int:
        """Estimated peak bytes of one fit on ``rows`` whose training matrix holds ``n_values``
        values: the matrix (and the classifier's copy of it), the chunk being added to it, the
        solver's vectors, or the test rows' features if they are larger."""
        size = n_values * self.bytes_per_value + self.counting_memory(rows)
        size += self.n_terms * max(1, n_classes) * 8 * self.solver_vectors
        return max(size, int(self.row_nnz[test].sum()) * 24)

    def pipeline_memory(self, rows: np.ndarray, n_classes: int) -> int:
        """Estimated peak bytes of ``Pipeline.fit`` on ``rows``: the counts of all the rows and
        their weighted copy (~10 bytes a counted value; the character block counts each distinct
        word once), ~200 bytes a distinct n-gram for the vocabulary, the solver's vectors."""
        n_values = int(self.row_nnz[rows].sum())
        per_term = 200 + max(1, n_classes) * 8 * self.solver_vectors
        return n_values * 10 + self.n_terms * per_term

    def fit(self, rows: np.ndarray) -> tuple[FittedFeatures, int]:
        """Fit the features step on ``rows``; return it and the number of values of their matrix."""
        rows = np.asarray(rows)
        fits, sizes = zip(*(block.fit(rows) for block in self.blocks), strict=True)
        return FittedFeatures(list(fits)), int(sum(sizes))

    def training_features(self, fitted: FittedFeatures, rows: np.ndarray, n_values: int) -> Any:
        """The features of the rows ``fitted`` was fit on (``n_values`` values, from ``fit``)."""
        x = fitted._matrix(np.asarray(rows), n_values)
        # As ColumnTransformer: sparse output below its threshold share of stored values.
        density = x.nnz / (x.shape[0] * x.shape[1]) if x.shape[0] and x.shape[1] else 1.0
        fitted.sparse_output = density < self.sparse_threshold
        return x if fitted.sparse_output else x.toarray()
