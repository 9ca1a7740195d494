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
    ],
)
def test_upload_work_is_kept_off_the_first_cpu_unless_told(
    monkeypatch, allowed: set[int], setting: str, expected: set[int] | None
) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(allowed))
    monkeypatch.setenv("UPLOAD_LANE_CPUS", setting)
    assert upload_lane_cpus() == expected


def test_a_cpu_list_that_cannot_be_read_is_refused_by_name(monkeypatch) -> None:
    monkeypatch.setenv("UPLOAD_LANE_CPUS", "the second one")
    with pytest.raises(ValueError, match="UPLOAD_LANE_CPUS"):
        upload_lane_cpus()


def test_a_web_process_freezes_what_it_loaded_before_serving() -> None:
    import civicpulse.gunicorn_conf as conf

    assert gc.get_freeze_count() == 0
    try:
        conf.post_worker_init(None)
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
