"""``ohm up``: refuses a port that is already taken before starting anything."""

from __future__ import annotations

import socket

import pytest
from django.core.management.base import CommandError

from ohm.batch.management.commands.up import _check_port_free


class TestCheckPortFree:
    def test_a_taken_port_is_refused_with_a_hint(self):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]

            with pytest.raises(CommandError, match="--port"):
                _check_port_free("127.0.0.1", port)

    def test_a_free_port_passes(self):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]

        _check_port_free("127.0.0.1", port)
