"""How each web process is set up to keep pages quick beside uploads: the CPUs its upload
work runs on (civicpulse.core.cpus) and what its collector looks at (gunicorn_conf)."""

import gc
import os

import pytest

from civicpulse.core.cpus import upload_lane_cpus


@pytest.mark.parametrize(
    ("allowed", "setting", "expected"),
    [
        ({0, 1}, "", {1}),
        ({0, 1, 2, 3}, "", {1, 2, 3}),
        ({2, 5}, "", {5}),  # the first CPU the process may use, whatever its number
        ({0}, "", None),  # one CPU: nothing to leave to pages
        ({0, 1, 2, 3}, "all", None),
        ({0, 1, 2, 3}, "2-3", {2, 3}),
        ({0, 1}, "0, 1", {0, 1}),
        ({0, 1}, "5-7", None),  # none of them the process's: every CPU, not none
        ({0, 1, 2}, "1-99999999999", {1, 2}),
    ],
)
def test_upload_work_is_kept_off_the_first_cpu_unless_told(
    monkeypatch, allowed: set[int], setting: str, expected: set[int] | None
) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(allowed))
    monkeypatch.setenv("UPLOAD_LANE_CPUS", setting)
    assert upload_lane_cpus() == expected


def test_a_cpu_list_that_cannot_be_read_stops_the_server_at_its_start(monkeypatch) -> None:
    import importlib

    import civicpulse.gunicorn_conf as conf

    monkeypatch.setenv("UPLOAD_LANE_CPUS", "the second one")
    with pytest.raises(ValueError, match="UPLOAD_LANE_CPUS"):
        upload_lane_cpus()
    with pytest.raises(ValueError, match="UPLOAD_LANE_CPUS"):
        importlib.reload(conf)
    monkeypatch.undo()
    importlib.reload(conf)


def test_a_web_process_freezes_what_it_loaded_before_serving() -> None:
    import civicpulse.gunicorn_conf as conf

    assert gc.get_freeze_count() == 0
    try:
        conf.post_worker_init(None)
        assert gc.get_freeze_count() > 0 and conf._freeze_survivors in gc.callbacks
    finally:
        gc.callbacks.remove(conf._freeze_survivors)
        gc.unfreeze()


def test_what_a_full_collection_leaves_is_frozen_once_it_is_many(monkeypatch) -> None:
    import civicpulse.gunicorn_conf as conf

    assert gc.get_freeze_count() == 0
    kept = [{"n": n} for n in range(conf.SETTLED_OBJECTS + 1)]
    gc.collect()
    try:
        conf._freeze_survivors("stop", {"generation": 1})  # not a full collection
        assert gc.get_freeze_count() == 0
        monkeypatch.setattr(conf, "SETTLED_OBJECTS", len(gc.get_objects(generation=2)) + 1)
        conf._freeze_survivors("stop", {"generation": 2})  # few left: nothing frozen
        assert gc.get_freeze_count() == 0
        monkeypatch.undo()
        conf._freeze_survivors("stop", {"generation": 2})
        assert gc.get_freeze_count() >= len(kept)
    finally:
        gc.unfreeze()
