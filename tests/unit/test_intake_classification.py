"""Manual intake's classification: the configured rules (Chinese and English keywords and
patterns, severity cues), the learned model (trained only from enough labels, deterministic,
explained), how the two are chosen between, and the correction recorded on the incident."""
from __future__ import annotations

from datetime import datetime, timezone
from types import SimpleNamespace

import pytest

from shared.contracts.vocabulary import Severity
from shared.errors import Invalid

from services.incidents.domain.errors import DowngradeNeedsManager
from services.incidents.domain.intake import ClassificationUnchanged
from services.incidents.domain.sla import incident_type
from services.incidents.intake.catalogue import CatalogueError, load_catalogue, parse_catalogue
from services.incidents.intake.classifier import Classifier, Example
from services.incidents.intake.intake import classify_declared
from services.incidents.intake.rules import guess_severity, guess_type
from tests.unit.test_incidents_domain import CAUSE, T0, open_incident

AT = datetime(2026, 11, 3, 9, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def catalogue():
    return load_catalogue()


# -- rules ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "expected"), [
    ("配件到货超时，供应商说物流延误", "supplier_delay"),
    ("The supplier's parts delivery is three days late", "supplier_delay"),
    ("顾客投诉要求退款", "complaint"),
    ("本周NPS下降了12分", "nps_drop"),
    ("冷柜坏了不制冷", "equipment_failure"),
    ("The freezer broke down overnight", "equipment_failure"),
    ("面包发霉，疑似食品安全问题", "food_safety"),
    ("收银员态度恶劣还骂人", "service_attitude"),
    ("Cashier was rude and shouted at me", "service_attitude"),
    ("小程序打不开，支付失败", "system_outage"),
    ("The app is down, payment failed at every till", "system_outage"),
])
def test_the_rules_point_each_report_to_its_type(catalogue, text, expected):
    guess = guess_type(catalogue, text)
    assert guess.problem_type == expected, guess
    assert guess.method == "rules" and 0 < guess.confidence < 1 and guess.reasons


def test_english_keywords_match_whole_words_only(catalogue):
    assert guess_type(catalogue, "a happy customer").problem_type is None


def test_confidence_is_the_winners_share_of_every_weight_plus_one(catalogue):
    assert guess_type(catalogue, "收到差评").confidence == 0.5  # one keyword: 1 / (1 + 1)
    nothing = guess_type(catalogue, "今天天气不错")
    assert nothing.problem_type is None and nothing.confidence == 0.0
    assert "no keyword" in nothing.reasons[0]


def test_the_most_urgent_severity_cue_wins_else_the_types_own_else_the_default(catalogue):
    level, confidence, why = guess_severity(catalogue, "多名顾客食物中毒送医", "food_safety", 0.7)
    assert level is Severity.P0 and why[0].startswith("P0: matched")
    assert guess_severity(catalogue, "冰柜坏了", "equipment_failure", 0.7) == (
        Severity.P2, 0.7, ("the usual severity of equipment_failure",))
    assert guess_severity(catalogue, "hello", None, 0.0)[0] is Severity.P3


@pytest.mark.parametrize(("data", "names"), [
    ({"types": []}, "types"),
    ({"types": [{"id": "Bad Id"}]}, "types.0.id"),
    ({"types": [{"id": "a"}, {"id": "a"}]}, "types.1.id"),
    ({"types": [{"id": "a", "severity": "P7"}]}, "types.0.severity"),
    ({"types": [{"id": "a", "patterns": ["(unclosed"]}]}, "types.0.patterns"),
    ({"types": [{"id": "a"}], "severity_cues": {"P9": {}}}, "severity_cues.P9"),
])
def test_a_broken_catalogue_is_refused_naming_the_entry(data, names):
    with pytest.raises(CatalogueError, match=names.replace(".", r"\.")):
        parse_catalogue(data)


# -- the learned model ----------------------------------------------------------------------
LABELS = [
    Example("冰柜坏了", "equipment_failure"), Example("收银机故障无法开机", "equipment_failure"),
    Example("oven broken again", "equipment_failure"), Example("咖啡机漏水", "equipment_failure"),
    Example("到货晚了两天", "supplier_delay"), Example("配件还没送到", "supplier_delay"),
    Example("supplier shipment late", "supplier_delay"), Example("物流延误缺货", "supplier_delay"),
    Example("no longer a type", "retired_type"),
]


def test_the_model_waits_for_enough_labels_of_two_types(catalogue):
    classifier = Classifier(catalogue, min_examples=3)
    status = classifier.train(LABELS[:4], AT)  # four of one type
    assert not status["trained"] and "at least 3 of 2 or more types" in status["reason"]
    assert [c["method"] for c in classifier.propose("冰柜坏了")["candidates"]] == ["rules"]


def test_retraining_is_deterministic_and_leaves_out_types_no_longer_listed(catalogue):
    one, two = Classifier(catalogue, min_examples=4), Classifier(catalogue, min_examples=4)
    assert one.train(LABELS, AT)["types"] == {"equipment_failure": 4, "supplier_delay": 4}
    two.train(LABELS, AT)
    for text in ("冰箱又坏了", "货还没到", "the delivery is late", "完全无关的话"):
        assert one.propose(text) == two.propose(text)


def test_a_sure_model_overrules_the_words_and_says_which_features_decided(catalogue):
    classifier = Classifier(catalogue, min_examples=4, model_threshold=0.5)
    classifier.train(LABELS, AT)
    proposal = classifier.propose("咖啡机又漏水了")
    assert proposal["method"] == "model" and proposal["problem_type"] == "equipment_failure"
    assert any("咖啡" in reason for reason in proposal["reasons"])
    # An unsure model leaves it to the rules where they found something.
    picky = Classifier(catalogue, min_examples=4, model_threshold=0.99)
    picky.train(LABELS, AT)
    assert picky.propose("顾客投诉要求退款")["method"] == "rules"
    # Where the rules find nothing, even an unsure model is an answer.
    assert picky.propose("完全无关的话")["method"] == "model"


# -- what a declared incident records ---------------------------------------------------------
def body(**given):
    return SimpleNamespace(**{"title": "冷柜坏了", "summary": "", "description": "冷柜不制冷",
                              "severity": None, "problem_type": None, "source": "phone",
                              "attachments": [], **given})


def test_the_proposal_is_taken_unless_a_person_gives_the_type_or_severity(catalogue):
    classifier = Classifier(catalogue)
    severity, intake = classify_declared(classifier, body())
    assert severity is Severity.P2 and intake["problem_type"] == "equipment_failure"
    assert not intake["labelled"] and intake["corrected"] == []
    severity, intake = classify_declared(classifier, body(problem_type="food_safety"))
    assert severity is Severity.P1  # the given type's own severity
    assert intake["labelled"] and intake["corrected"] == ["problem_type"]
    with pytest.raises(Invalid) as refused:
        classify_declared(classifier, body(problem_type="weather"))
    assert refused.value.field == "problem_type" and "supplier_delay" in refused.value.message


def test_a_correction_is_an_event_and_a_new_severity_moves_the_deadlines():
    incident = open_incident(severity=Severity.P2)
    incident.intake = {"problem_type": "complaint", "labelled": False}
    incident.correct_classification("food_safety", Severity.P0, "三人送医", "li.na", T0, CAUSE)
    names = [type(e).__name__ for e in incident.collect_events()]
    assert names[-2:] == ["Reclassified", "SeverityChanged"]
    assert incident.problem_type == "food_safety" and incident.intake["labelled"]
    assert incident.severity is Severity.P0 and incident.corrections == 1
    with pytest.raises(ClassificationUnchanged, match="send a different"):
        incident.correct_classification("food_safety", None, "again", "li.na", T0, CAUSE)


def test_lowering_by_correction_takes_a_manager_and_a_refusal_records_nothing():
    incident = open_incident(severity=Severity.P1)
    incident.intake = {"problem_type": "food_safety", "labelled": False}
    incident.collect_events()
    with pytest.raises(DowngradeNeedsManager, match="needs the manager role"):
        incident.correct_classification("complaint", Severity.P3, "误报", "li.na", T0, CAUSE,
                                        manager=False)
    assert incident.collect_events() == [] and incident.severity is Severity.P1
    assert incident.problem_type == "food_safety" and not incident.intake["labelled"]
    # Raising is anyone's; the corrected type is the one the SLA policy is chosen by.
    incident.correct_classification("complaint", Severity.P0, "三人送医", "li.na", T0, CAUSE,
                                    manager=False)
    assert incident.severity is Severity.P0 and incident.sla_type == "complaint"
    incident.correct_classification(None, Severity.P2, "核实后影响小", "wang.jianguo", T0, CAUSE,
                                    manager=True)
    assert incident.severity is Severity.P2


def test_a_declared_incidents_classified_type_chooses_its_sla_policy():
    assert incident_type({"intake": {"problem_type": "food_safety"}}) == "food_safety"
    assert incident_type({"labels": {"category": "pos"}}) == "pos"
    assert incident_type({"source": "manual"}) is None
