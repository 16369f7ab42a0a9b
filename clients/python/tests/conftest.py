"""Fixtures: a real feedbackd (the built binary) on a temporary socket and database."""

from __future__ import annotations

import pathlib
from collections.abc import Iterator

import pytest
from support import Feedbackd


@pytest.fixture()
def feedbackd(tmp_path: pathlib.Path) -> Iterator[Feedbackd]:
    server = Feedbackd(tmp_path)
    yield server
    server.stop()


@pytest.fixture()
def impatient_feedbackd(tmp_path: pathlib.Path) -> Iterator[Feedbackd]:
    """A feedbackd that gives up on a locked database after 200 ms."""
    server = Feedbackd(tmp_path, busy_timeout_ms=200)
    yield server
    server.stop()
