"""Numbers drawn from named sequences."""

import pytest

from ohm.core import identifiers


@pytest.mark.django_db
class TestNextNumbers:
    def test_numbers_follow_on_zero_padded_to_the_width(self):
        first = identifiers.next_numbers("thing", prefix="T", width=5, count=3)

        second = identifiers.next_numbers("thing", prefix="T", width=5, count=2)

        assert first == ["T00001", "T00002", "T00003"]
        assert second == ["T00004", "T00005"]

    def test_a_prefix_is_taken_as_written(self):
        assert identifiers.next_numbers("odd", prefix="A%d-", width=3) == ["A%d-001"]

    def test_a_number_wider_than_the_width_is_written_whole(self):
        identifiers.reserve("wide", count=1_000, start=1)

        assert identifiers.next_numbers("wide", prefix="W", width=3) == ["W1001"]
