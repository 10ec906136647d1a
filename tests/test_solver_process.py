"""The helper process for small classifier fits: same fits, warnings and errors as in-process."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import replace

import numpy as np
import pytest
import scipy.sparse as sp
from helpers import assert_same_evaluation, make_dataset
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

from stance.training.data import from_dataset
from stance.training.evaluate import evaluate
from stance.training.models import SoftmaxLinearSVC, spec_from_entry
from stance.training.run import settings_for
from stance.training.solver_process import MAX_ROWS, SolverProcess, solver_process

START_TIMEOUT = 120  # seconds for the helper's imports on a busy machine


def small_problem(seed: int = 0) -> tuple[sp.csr_matrix, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = sp.random(60, 40, density=0.2, random_state=seed, format="csr")
    y = np.asarray(rng.choice(["against", "favor", "none"], size=60), dtype=object)
    return x, y


@pytest.fixture(scope="module")
def helper():
    process = SolverProcess()
    assert process.wait_until_started(START_TIMEOUT), "the helper process did not start"
    yield process
    process.close()


@pytest.mark.parametrize(
    "classifier",
    [
        LogisticRegression(C=10.0, class_weight="balanced", max_iter=2000, random_state=3),
        SoftmaxLinearSVC(C=0.5, class_weight="balanced", tol=0.1, random_state=3),
    ],
)
def test_a_fit_in_the_helper_equals_a_fit_in_this_process(helper, classifier):
    x, y = small_problem()
    before = helper.fits
    there = helper.try_fit(clone(classifier), x, y)
    here = clone(classifier).fit(x, y)
    assert there is not None and helper.fits == before + 1
    np.testing.assert_array_equal(there.coef_, here.coef_)
    np.testing.assert_array_equal(there.intercept_, here.intercept_)
    np.testing.assert_array_equal(there.predict_proba(x), here.predict_proba(x))


def test_the_warnings_and_errors_of_a_fit_reach_the_caller(helper):
    x, y = small_problem(1)
    with pytest.warns(ConvergenceWarning):
        assert helper.try_fit(LogisticRegression(max_iter=1), x, y) is not None
    one_class = np.asarray(["favor"] * x.shape[0], dtype=object)
    with pytest.raises(ValueError, match="class"):
        helper.try_fit(LogisticRegression(), x, one_class)
    # The helper still serves after an error.
    assert helper.try_fit(LogisticRegression(), x, y) is not None


def test_large_fits_stay_in_the_caller(helper):
    x = sp.random(MAX_ROWS + 1, 5, density=0.5, random_state=0, format="csr")
    y = np.asarray(["a", "b"] * ((MAX_ROWS + 1) // 2) + ["a"], dtype=object)
    assert helper.try_fit(LogisticRegression(), x, y) is None


def test_a_killed_helper_hands_the_fits_back():
    process = SolverProcess()
    assert process.wait_until_started(START_TIMEOUT)
    process._process.kill()
    process._process.wait()
    x, y = small_problem(2)
    assert process.try_fit(LogisticRegression(), x, y) is None
    assert process.try_fit(LogisticRegression(), x, y) is None  # and stays out of the way
    process.close()


def test_the_helper_ends_with_the_process_that_started_it(tmp_path):
    script = (
        "from stance.training.solver_process import solver_process\n"
        f"helper = solver_process()\nassert helper.wait_until_started({START_TIMEOUT})\n"
        "print(helper._process.pid)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=True
    )
    pid = int(done.stdout.strip())
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    pytest.fail(f"helper process {pid} outlived its caller")


def test_an_evaluation_gives_the_same_results_with_the_helper(config):
    data = from_dataset(make_dataset(n_articles=5, per_article=10), "synthetic")
    spec = spec_from_entry(
        {"name": "wc", "kind": "tfidf_word_char", "params": {"max_iter": 3}}  # warns
    )
    settings = replace(settings_for(config), n_bootstrap=50)
    helper = solver_process()
    assert helper.wait_until_started(START_TIMEOUT)
    before = helper.fits
    two = evaluate(data, spec, replace(settings, n_jobs=2))
    assert helper.fits > before, "no fit went to the helper"
    one = evaluate(data, spec, replace(settings, n_jobs=1))
    assert any("ConvergenceWarning" in w for w in one.warnings)
    assert_same_evaluation(two, one, data.frame[spec.features])
