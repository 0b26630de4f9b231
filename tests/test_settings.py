"""Settings that are worked out from others."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from matcher.settings import Settings


@pytest.mark.parametrize("workers", [1, 2, 3, 64])
def test_each_worker_gives_its_encoders_its_share_of_the_cores(tmp_path: Path, workers: int) -> None:
    cores = os.cpu_count() or 1
    threads = Settings(data_dir=tmp_path, workers=workers).resolved_encoder_threads
    assert threads == max(1, cores // workers)
    assert 1 <= threads <= cores


def test_a_chosen_encoder_thread_count_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MATCHER_ENCODER_THREADS", "3")
    assert Settings(data_dir=tmp_path, workers=8).resolved_encoder_threads == 3
    monkeypatch.setenv("MATCHER_ENCODER_THREADS", "-1")
    with pytest.raises(ValueError, match="encoder_threads"):
        Settings(data_dir=tmp_path)
