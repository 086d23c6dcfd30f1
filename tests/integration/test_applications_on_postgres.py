"""The application stories of the unit tests, re-run on PostgreSQL: the same tests, another
event store (the in-memory store keeps only a high-water mark for tracking, PostgreSQL one row
per message, so both must tell the same story)."""
from __future__ import annotations

import uuid

import pytest

from shared.store import ensure_schema, eventsourcing_env
from tests.unit.test_incidents_domain import (  # noqa: F401 (collected again here)
    feed,
    test_a_clear_that_overtakes_its_raise_waits_for_it_and_older_incidents_still_hear_it,
    test_after_resolution_a_new_firing_opens_the_next_incident_but_a_resend_does_not,
    test_an_alert_with_an_unknown_severity_is_rejected_to_the_dead_letter_stream,
    test_facts_about_unknown_incidents_are_acknowledged_and_skipped,
    test_one_incident_per_fingerprint_while_it_is_open,
    test_each_missed_deadline_is_recorded_once_and_a_met_one_never,
    test_refs_are_numbered_per_severity,
    test_the_capa_case_walks_the_incident_through_the_status_flow,
    test_the_whole_story_from_alert_to_closure_through_the_application,
    test_unknown_ids_and_refs_are_not_found,
)
from tests.unit.test_incidents_lifecycle import (  # noqa: F401 (collected again here)
    incidents,
    test_a_declared_incident_records_its_reporter_who_follows_it,
    test_each_lifecycle_change_is_published_and_told_on_the_timeline,
)
from tests.unit.test_notifier_lifecycle import (  # noqa: F401 (collected again here)
    test_a_progress_update_reaches_r_a_reporter_and_followers_once_each_not_its_author,
    test_a_reopened_incident_climbs_its_ladder_again_under_new_reasons,
    test_an_opening_a_follow_and_a_raise_in_one_consumer_batch_tell_the_same_story,
    test_raising_an_unacknowledged_incident_to_p0_pages_the_p0_ladder_and_starts_it,
)
from tests.unit.test_raci_restaffing import (  # noqa: F401 (collected again here)
    test_a_raise_restaffs_from_the_new_row_keeping_the_letters_given_by_hand,
    test_hand_letters_without_a_matrix_row_are_followed_then_a_raise_staffs_and_chases,
    test_in_consumer_batches_a_raise_keeps_the_earlier_assignment_and_a_reopening_chases,
)
from tests.unit.test_incidents_numbering import (  # noqa: F401 (collected again here)
    test_a_batch_of_alerts_of_one_severity_is_saved_once_with_consecutive_refs,
    test_a_batch_that_fails_issues_no_ref_and_leaves_no_gap,
    test_a_link_an_earlier_release_stored_in_two_events_still_loads_and_links_on,
    test_a_new_incident_stores_three_events_and_its_number,
    test_refs_continue_after_those_an_earlier_release_issued_which_still_resolve,
)
from tests.unit.test_incidents_stored_topics import (  # noqa: F401 (collected again here)
    test_an_incident_stored_before_the_split_loads_with_the_same_state_and_timeline,
    test_every_event_of_an_incident_is_stored_under_the_topic_it_always_had,
    test_the_same_life_is_stored_as_it_was_before_the_split,
)
from tests.unit.test_notifier_batches import (  # noqa: F401 (collected again here)
    test_a_consumer_batch_checks_the_configuration_and_quiet_rules_once,
    test_a_first_attempt_is_claimed_with_its_scheduling_and_handed_over_once_committed,
    test_a_redelivery_in_a_batch_conflicts_and_goes_through_when_tried_again,
    test_an_attempt_whose_sender_never_reported_is_recorded_interrupted_in_the_batch,
    test_due_deliveries_are_claimed_together_and_one_already_claimed_is_left_out,
    test_outcomes_are_recorded_together_and_one_refused_costs_no_other,
)
from tests.unit.test_notifier_org_cache import (  # noqa: F401 (collected again here)
    test_a_consumer_batch_asks_for_the_chart_once_and_pages_each_stores_manager,
    test_an_unchanged_chart_is_checked_with_the_fingerprint_alone_and_a_change_is_seen,
    test_the_fingerprint_is_the_count_and_the_sum_of_the_latest_versions,
)
from tests.unit.test_notifier_holds import (  # noqa: F401 (collected again here)
    test_a_hold_resolved_meanwhile_is_dropped_and_never_released,
    test_a_look_at_a_version_the_opening_has_left_is_refused,
    test_a_redelivered_held_opening_still_tells_nobody,
    test_a_silence_holds_step0_then_releases_it_when_it_ends_and_the_ladder_counts_from_then,
    test_trial_mode_holds_for_good_and_says_so,
)
from tests.unit.test_shared_store import (  # noqa: F401 (collected again here)
    test_a_batch_of_independent_changes_is_written_together,
    test_a_change_a_failing_handler_did_not_save_is_not_seen_by_the_next,
    test_a_failing_batch_writes_nothing,
    test_a_handler_reads_what_an_earlier_handler_of_the_batch_saved,
    test_an_earlier_version_of_something_the_batch_changed_is_not_read,
    test_a_batch_reads_ahead_in_one_go_and_its_handlers_read_what_it_found,
    test_a_failed_batch_issues_no_number_and_a_number_is_issued_once,
    test_numbers_are_consecutive_per_scope_inside_a_batch_and_after_it,
)
from tests.unit.test_notifier_domain import (  # noqa: F401 (collected again here)
    app,
    test_a_policy_naming_an_unknown_channel_is_refused,
    test_an_acknowledgement_stops_the_timer,
    test_an_acknowledgement_that_overtakes_the_opening_keeps_the_timer_from_starting,
    test_an_escalation_fires_once_and_schedules_its_messages_in_the_same_save,
    test_an_incident_no_policy_covers_records_only_why_nobody_is_told,
    test_an_opened_incident_schedules_deliveries_and_a_timer_and_a_redelivery_adds_nothing,
    test_two_replicas_claiming_the_same_attempt_collide_on_save,
)
from tests.unit.test_checklists import (  # noqa: F401 (collected again here)
    checklists,
    test_a_ready_message_for_the_store_manager_and_the_region_lead,
    test_a_severity_change_swaps_or_withdraws_the_checklist,
    test_items_are_checked_once_by_a_person_and_unchecked_ones_fall_overdue,
)
from tests.unit.test_checklist_chases import (  # noqa: F401 (collected again here)
    test_a_replaced_template_moves_shared_items_and_ends_dropped_ones,
    test_each_item_is_chased_until_checked,
)
from tests.unit.test_capa_effectiveness import (  # noqa: F401 (collected again here)
    story,
    test_a_clean_window_closes_the_case,
    test_a_manual_case_closes_on_an_effectiveness_check_by_a_second_person,
    test_a_re_fire_on_day_3_of_the_window_sends_the_case_back_to_analysis,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def store_env(database_url) -> dict[str, str]:
    schema = f"app_{uuid.uuid4().hex[:8]}"
    ensure_schema(database_url, schema)
    return eventsourcing_env(database_url, schema)
