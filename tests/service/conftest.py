"""Fixtures for the service's tests: a real server shared by the session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from liveserver import LiveServer, start_server, stop_server


@pytest.fixture(scope="session")
def admin_token() -> str:
    return "test-admin-token-123"


@pytest.fixture(scope="session")
def live_server(tmp_path_factory, shipped_model_dir, admin_token) -> Iterator[LiveServer]:
    """One server for the whole session, on the shipped model, with reload enabled (admin token set)
    but without API keys. Tests that change the model start their own server."""
    tmp = tmp_path_factory.mktemp("live")
    server = start_server(tmp, env={"THRESHER_MODEL_DIR": str(shipped_model_dir),
                                    "THRESHER_ADMIN_TOKEN": admin_token, "THRESHER_MAX_BATCH": "8",
                                    "THRESHER_MAX_BODY_BYTES": str(256 * 1024)})
    yield server
    stop_server(server)
