"""The result cache: a result is found only with the key it was made from and all its files."""

from __future__ import annotations

from pathlib import Path

from stance.training.result_cache import RESULT_FILES, ResultCache


def write_result(folder: Path) -> None:
    folder.mkdir(parents=True)
    for name in RESULT_FILES:
        (folder / name).write_text(f"{name}\n", encoding="utf-8")


def test_a_result_is_found_and_restored_with_its_own_key_only(tmp_path: Path):
    cache = ResultCache(tmp_path / "cache")
    key, other = {"model": "a", "data": 1}, {"model": "a", "data": 2}
    assert not cache.has("a", key)
    write_result(tmp_path / "made")
    cache.save("a", key, tmp_path / "made")
    assert cache.has("a", key) and not cache.has("a", other) and not cache.has("b", key)
    assert not cache.restore("a", other, tmp_path / "out")
    assert cache.restore("a", key, tmp_path / "out")
    for name in RESULT_FILES:
        assert (tmp_path / "out" / name).read_text(encoding="utf-8") == f"{name}\n"
    # A cached result with a file missing is not found: the model is trained again.
    (tmp_path / "cache" / "a" / RESULT_FILES[0]).unlink()
    assert not cache.has("a", key)
    assert not cache.restore("a", key, tmp_path / "again")
