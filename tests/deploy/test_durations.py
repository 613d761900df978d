"""deploy.config.durations: durations as operators write them, and how they are shown back."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deploy.config.durations import format_duration, parse_duration


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        pytest.param("30s", 30.0, id="seconds"),
        pytest.param("5m", 300.0, id="minutes"),
        pytest.param("1h", 3600.0, id="hours"),
        pytest.param("2d", 172800.0, id="days"),
        pytest.param("500ms", 0.5, id="milliseconds"),
        pytest.param("1h30m", 5400.0, id="hours-and-minutes"),
        pytest.param("1m30s500ms", 90.5, id="three-units"),
        pytest.param("1.5h", 5400.0, id="fractional-hours"),
        pytest.param(" 1H 30M ", 5400.0, id="spaces-and-uppercase"),
        pytest.param("90", 90.0, id="bare-number-string"),
        pytest.param("2.5", 2.5, id="bare-decimal-string"),
        pytest.param("0", 0.0, id="zero"),
        pytest.param(45, 45.0, id="int"),
        pytest.param(2.5, 2.5, id="float"),
        pytest.param(0, 0.0, id="int-zero"),
    ],
)
def test_durations_are_read_as_seconds(value: str | float, seconds: float) -> None:
    assert seconds == parse_duration(value)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        pytest.param(True, "expected a duration like 30s, 5m or 1h, not a boolean", id="boolean"),
        pytest.param(-1, "a duration may not be negative", id="negative-int"),
        pytest.param(-0.5, "a duration may not be negative", id="negative-float"),
        pytest.param("-5", "a duration may not be negative", id="negative-string"),
        pytest.param("", "expected a duration like 30s, 5m or 1h", id="empty"),
        pytest.param("   ", "expected a duration like 30s, 5m or 1h", id="blank"),
        pytest.param(
            "5 minutes", "'5 minutes' is not a duration; write it like 30s, 5m, 1h30m or 500ms", id="spelled-unit"
        ),
        pytest.param("5x", "'5x' is not a duration; write it like 30s, 5m, 1h30m or 500ms", id="unknown-unit"),
        pytest.param("m5", "'m5' is not a duration; write it like 30s, 5m, 1h30m or 500ms", id="unit-first"),
        pytest.param("1h30", "'1h30' is not a duration; write it like 30s, 5m, 1h30m or 500ms", id="trailing-number"),
        pytest.param("-5s", "'-5s' is not a duration; write it like 30s, 5m, 1h30m or 500ms", id="negative-with-unit"),
        pytest.param("s", "'s' is not a duration; write it like 30s, 5m, 1h30m or 500ms", id="unit-alone"),
    ],
)
def test_non_durations_are_refused_with_the_accepted_forms(value: str | float, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_duration(value)
    assert message == str(caught.value)


@pytest.mark.parametrize("value", ["nan", "inf", "infinity", float("nan"), float("inf")])
def test_nan_and_infinity_are_not_durations(value: str | float) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(value)


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        pytest.param(0, "0.0s", id="zero"),
        pytest.param(0.25, "0.2s", id="sub-second"),
        pytest.param(12.34, "12.3s", id="one-decimal"),
        pytest.param(59.94, "59.9s", id="just-under-a-minute"),
        pytest.param(60, "1m00s", id="one-minute"),
        pytest.param(75.2, "1m15s", id="docstring-example"),
        pytest.param(3599.4, "59m59s", id="just-under-an-hour"),
        pytest.param(3600, "1h00m", id="one-hour"),
        pytest.param(5400, "1h30m", id="hour-and-a-half"),
        pytest.param(4831, "1h20m", id="hours-drop-the-seconds"),
        pytest.param(90061, "25h01m", id="more-than-a-day-stays-in-hours"),
    ],
)
def test_durations_are_shown_compactly(seconds: float, shown: str) -> None:
    assert shown == format_duration(seconds)


@given(st.floats(min_value=0, max_value=1e7, allow_nan=False, allow_infinity=False))
def test_a_shown_duration_reads_back_as_about_the_same_duration(seconds: float) -> None:
    # under a minute: one decimal; under an hour: whole seconds; beyond: whole minutes (seconds dropped)
    tolerance = 0.05 if seconds < 60 else 0.5 if seconds < 3600 else 60
    assert abs(parse_duration(format_duration(seconds)) - seconds) <= tolerance + 1e-9


@given(
    st.one_of(
        st.builds(lambda t: f"{t / 10:.1f}s", st.integers(0, 599)),
        st.builds(lambda m, s: f"{m}m{s:02d}s", st.integers(1, 59), st.integers(0, 59)),
        st.builds(lambda h, m: f"{h}h{m:02d}m", st.integers(1, 1000), st.integers(0, 59)),
    )
)
def test_a_compact_duration_is_shown_exactly_as_written(text: str) -> None:
    assert text == format_duration(parse_duration(text))
