"""Joining a Ray cluster checks its address before Ray is even imported: nothing answering there is
a one-line `ComputeError` at once, not Ray's endless connect retries. Real clusters are joined in
the integration tier (test_distributed_cluster.py)."""

from __future__ import annotations

import socket

import pytest

from dsl.errors import ComputeError, NetsynthError
from synth.int_engine.cluster import join


def test_nothing_answering_at_the_address_is_a_one_line_compute_error_naming_it():
    with socket.socket() as s:                  # a port that nothing listens on
        s.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{s.getsockname()[1]}"
    with pytest.raises(ComputeError) as info:
        join(address)
    message = str(info.value)
    assert isinstance(info.value, NetsynthError)
    assert "\n" not in message
    assert message.startswith(f"cannot join the Ray cluster at {address}: nothing answers there")
    assert f"ray status --address {address}" in message
