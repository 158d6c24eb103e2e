"""Conservative care as interval arithmetic (app/clinical/care.py, clinical-rules v2 §2.3): pure, no criteria."""

from __future__ import annotations

from datetime import date, timedelta

from app.clinical.care import CareItem, care_bounds, describe, runs, weeks

EVAL = date(2026, 11, 1)
EPISODE = date(2026, 1, 1)
BRIDGE = 14


def ago(days: int) -> date:
    return EVAL - timedelta(days=days)


def course(ref: str, start: int, end: int, *, label: str = "naproxen") -> CareItem:
    return CareItem(ref, label, ago(start), ago(end))


def session(ref: str, day: int) -> CareItem:
    return CareItem(ref, "physical therapy", ago(day), ago(day), session=True)


def bounds(*items: CareItem, episode: date = EPISODE) -> tuple[int, int]:
    found = care_bounds(items, episode_start=episode, evaluation=EVAL, bridge_days=BRIDGE)
    return found.lower_days, found.upper_days


def test_a_41_day_course_is_5_9_weeks_and_a_42_day_course_is_6():
    assert bounds(course("m", 100, 59)) == (41, 41)
    assert weeks(41) == 5.9 and 41 < 42
    assert bounds(course("m", 100, 58)) == (42, 42)
    assert weeks(42) == 6.0


def test_a_single_session_covers_its_day_and_its_length_is_known():
    assert bounds(session("p", 60)) == (0, 0)


def test_sessions_up_to_14_days_apart_form_one_programme():
    programme = [session(f"p{d}", d) for d in range(56, 0, -7)]  # 56, 49, ..., 7 days ago
    assert bounds(*programme) == (49, 49)


def test_a_gap_of_14_days_is_bridged_and_15_is_not():
    bridged = bounds(course("a", 80, 60), course("b", 46, 20))  # gap 14 days
    broken = bounds(course("a", 80, 60), course("b", 45, 20))  # gap 15 days
    assert bridged == (60, 60)
    assert broken == (25, 25)


def test_an_unknown_length_runs_at_its_upper_bound_until_the_next_item():
    unknown = CareItem("n", "naproxen", ago(80), ago(80), length_known=False)
    lower, upper = bounds(unknown, course("c", 50, 43, label="cyclobenzaprine"))
    assert lower == 7  # naproxen its day only; 30-day gap not bridged; cyclobenzaprine 7 days
    assert upper == 37  # naproxen runs until cyclobenzaprine starts: 80 -> 43 days ago


def test_an_unknown_length_with_no_next_item_runs_to_the_evaluation_date_at_its_upper_bound():
    unknown = CareItem("n", "naproxen", ago(60), ago(60), length_known=False)
    assert bounds(unknown) == (0, 60)


def test_intervals_are_clipped_to_the_episode():
    assert bounds(course("m", 400, 0), episode=ago(5)) == (5, 5)
    assert bounds(course("m", 200, 150), episode=ago(100)) == (0, 0)  # before the episode: nothing


def test_the_longest_run_is_reported_with_its_items():
    found = runs(
        [course("a", 100, 72), course("b", 50, 15)],
        episode_start=EPISODE,
        evaluation=EVAL,
        bridge_days=BRIDGE,
        upper=False,
    )
    assert [r.days for r in found] == [28, 35]


def test_the_reason_names_the_therapies_and_their_weeks():
    programme = [session(f"p{d}", d) for d in (40, 33, 26, 19)]
    found = care_bounds(
        [course("n", 70, 50), *programme], episode_start=EPISODE, evaluation=EVAL, bridge_days=BRIDGE
    )
    assert found.lower is not None
    assert describe(found.lower) == "naproxen 2.9 weeks, physical therapy 4 sessions over 3 weeks"
    assert found.lower_days == 51
