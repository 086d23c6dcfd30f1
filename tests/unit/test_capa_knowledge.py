"""The knowledge base without I/O: search and recommendation ranking in English and Chinese,
the reasons given, feedback moving an entry, and the 知识评审 stale flag on the test clock."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from services.capa.app import CapaApplication
from services.capa.domain import CapaCase, CaseStatus
from services.capa.knowledge.aggregate import (
    CaseNotClosed, EntryExists, IncidentProfile, InvalidKnowledge, KnowledgeEntry,
)
from services.capa.knowledge.commands import Knowledge
from services.capa.knowledge.index import tokens
from services.capa.knowledge.queries import with_stale
from services.capa.knowledge.recommend import Entry, Incident, KnowledgeIndex, feedback_factor
from shared.clock import ManualClock
from shared.contracts import CloudEvent, IncidentOpened
from shared.store import Tracking

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)
CAUSE = {"correlation_id": "corr-1", "causation_id": "msg-1", "trace": {}}


def entry(key: str, text: str, *, entity: str = "svc", rule: str | None = None,
          category: str | None = None, labels: dict[str, str] | None = None,
          useful: int = 0, not_useful: int = 0) -> Entry:
    return Entry(id=key, text=text, entity=entity, rule=rule, category=category,
                 labels=labels or {}, useful=useful, not_useful=not_useful,
                 review_by=date(2027, 1, 1))


def index_of(*entries: Entry) -> KnowledgeIndex:
    index = KnowledgeIndex()
    for e in entries:
        index.upsert(e)
    return index


def ranked(index: KnowledgeIndex, incident: Incident) -> list[str]:
    return [r["entry_id"] for r in index.recommend(incident, limit=10)]


def incident(title: str, entity: str = "other", rule: str | None = None,
             **labels: str) -> Incident:
    return Incident(incident_id="inc-new", title=title, entity=entity, rule=rule, labels=labels)


def test_chinese_is_split_into_bigrams_and_english_into_words():
    assert tokens("数据库连接池耗尽 DB pool-size=10") == [
        "db", "pool", "size", "10", "数据", "据库", "库连", "连接", "接池", "池耗", "耗尽"]
    assert tokens("磁盘 满") == ["磁盘", "满"]


def test_english_text_ranks_the_entry_about_the_same_problem_first():
    index = index_of(
        entry("pool", "checkout 5xx: database connection pool exhausted; raise pool size"),
        entry("disk", "disk full on the log volume; rotate logs daily"),
        entry("cert", "TLS certificate expired on the API gateway"))
    found = index.recommend(incident("database connection pool exhausted on payments"))
    assert [r["entry_id"] for r in found] == ["pool"]
    [text] = found[0]["matched"]
    assert text["field"] == "text" and {"connection", "pool", "exhausted"} <= set(
        text["value"].split(", "))
    hits, total = index.search("certificate expired")
    assert [e.id for e, _, _ in hits] == ["cert"] and total == 1


def test_chinese_text_ranks_the_entry_about_the_same_problem_first():
    index = index_of(
        entry("pool", "订单服务返回 5xx：数据库连接池耗尽，连接池扩容到 50"),
        entry("disk", "日志盘磁盘空间不足，按天轮转日志"),
        entry("cert", "网关证书过期导致握手失败"))
    assert ranked(index, incident("支付服务数据库连接池耗尽")) == ["pool"]
    assert [e.id for e, _, _ in index.search("磁盘空间")[0]] == ["disk"]
    # A mixed query reaches an English entry and a Chinese one alike.
    mixed = index_of(entry("en", "redis timeout on the cart service"),
                     entry("zh", "购物车服务 redis 超时"))
    assert sorted(ranked(mixed, incident("redis 超时 timeout"))) == ["en", "zh"]


def test_rule_category_entity_and_labels_each_add_their_share_and_say_so():
    index = index_of(
        entry("same-rule", "unrelated words", rule="HighErrorRate", entity="checkout",
              category="environment", labels={"service": "checkout", "team": "pay"}),
        entry("same-text", "high error rate on checkout"))
    found = index.recommend(incident("high error rate", entity="checkout", rule="HighErrorRate",
                                     category="环", service="checkout", team="ops"))
    assert [r["entry_id"] for r in found] == ["same-rule", "same-text"]
    reasons = {m["field"]: m for m in found[0]["matched"]}
    assert set(reasons) == {"rule", "entity", "category", "labels"}
    assert reasons["category"]["value"] == "environment"  # 环 is the environment category
    assert reasons["labels"] == {"field": "labels", "value": "service=checkout", "score": 0.075}
    assert found[0]["score"] == pytest.approx(0.2 + 0.1 + 0.15 + 0.075)


def test_feedback_moves_an_entry_up_or_down():
    twins = [entry("a", "queue consumer lag grows on orders"),
             entry("b", "queue consumer lag grows on orders")]
    new = incident("consumer lag on orders queue")
    assert ranked(index_of(*twins), new) == ["a", "b"]  # a tie, broken by id
    assert ranked(index_of(twins[0], entry("b", twins[1].text, useful=2)), new) == ["b", "a"]
    assert ranked(index_of(entry("a", twins[0].text, not_useful=1), twins[1]), new) == ["b", "a"]
    assert feedback_factor(0, 0) == 1.0
    assert 0.5 < feedback_factor(0, 50) < feedback_factor(0, 1) < 1 < feedback_factor(3, 0) < 1.5


def test_an_updated_entry_is_reindexed_and_unrelated_text_is_not_recommended():
    index = index_of(entry("x", "disk full"))
    assert ranked(index, incident("memory leak in worker")) == []
    index.upsert(entry("x", "memory leak in worker after deploy"))
    assert ranked(index, incident("memory leak in worker")) == ["x"]
    assert len(index) == 1


# -- the aggregate and commands, on the in-memory store and a manual clock -----------------

@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def knowledge(store_env, clock) -> Knowledge:
    return Knowledge(CapaApplication(store_env, clock))


def closed_case(app: CapaApplication, incident_id: str = "inc-1") -> CapaCase:
    case = CapaCase(incident_id=incident_id, ref="P1-2026-11-007", title="checkout 5xx",
                    severity="P1", entity="checkout", resolved_by="alice",
                    resolution="rolled back", at=T0, actor="capa", cause=CAUSE)
    case.record_root_cause(method="fishbone", statement="pool never load tested", whys=[],
                           category="machine", contributing_factors=[], at=T0, actor="alice",
                           cause=CAUSE)
    actions = [case.add_action(kind=kind, title=title, owner="alice", due_date=T0.date(),
                               acceptance_criteria="works", at=T0, actor="lead", cause=CAUSE)
               for kind, title in (("corrective", "raise pool to 50"),
                                   ("preventive", "load test in CI"))]
    for action in actions:
        case.complete_action(action, evidence="PR", as_manager=False, at=T0, actor="alice",
                             cause=CAUSE)
        case.verify_action(action, effective=True, note="", at=T0, actor="bob", cause=CAUSE)
    assert case.status is CaseStatus.CLOSED
    app.save(case)
    return case


def opened(incident_id: str, **labels: str) -> tuple[CloudEvent, IncidentOpened, Tracking]:
    contract = IncidentOpened(
        incident_id=incident_id, ref="P1-2026-11-007", fingerprint="f", severity="P1",
        title="checkout 5xx", entity="checkout", alert_id="a", opened_at=T0, respond_by=T0,
        resolve_by=T0, labels={"alertname": "HighErrorRate", **labels})
    envelope = CloudEvent(id=f"incidents:{incident_id}", source="closedloop/incidents",
                          type=IncidentOpened.type_name(), time=T0, subject=incident_id,
                          data=contract.model_dump(mode="json"))
    return envelope, contract, Tracking(f"incidents:{incident_id}", 1)


def test_an_entry_is_prefilled_from_its_closed_case_and_the_incident_opening(knowledge):
    knowledge.note_incident(*opened("inc-1", service="checkout"))
    case = closed_case(knowledge.app)
    made = knowledge.create_from_case(case.id, by="alice", cause=CAUSE,
                                      symptom="checkout answers 5xx under load")
    assert (made["root_cause"], made["category"]) == ("pool never load tested", "machine")
    assert (made["fix"], made["prevention"]) == ("raise pool to 50", "load test in CI")
    assert (made["rule"], made["labels"]["service"]) == ("HighErrorRate", "checkout")
    assert made["review_by"] == date(2027, 5, 1)  # 180 days after T0
    with pytest.raises(EntryExists):
        knowledge.create_from_case(case.id, by="alice", cause=CAUSE, symptom="again")


def test_an_entry_needs_a_symptom_and_a_closed_case(knowledge):
    case = closed_case(knowledge.app)
    with pytest.raises(InvalidKnowledge) as missing:
        knowledge.create_from_case(case.id, by="alice", cause=CAUSE, symptom="  ")
    assert missing.value.field == "symptom"
    still_open = CapaCase(incident_id="inc-2", ref="P2-1", title="t", severity="P2", entity="e",
                          resolved_by="a", resolution="r", at=T0, actor="capa", cause=CAUSE)
    knowledge.app.save(still_open)
    with pytest.raises(CaseNotClosed):
        knowledge.create_from_case(still_open.id, by="alice", cause=CAUSE, symptom="s")
    made = knowledge.create_from_case(case.id, by="alice", cause=CAUSE, symptom="s")
    with pytest.raises(InvalidKnowledge) as blank:
        knowledge.edit(made["id"], by="bob", cause=CAUSE, changes={"symptom": ""})
    assert blank.value.field == "symptom"
    with pytest.raises(InvalidKnowledge) as cleared:
        knowledge.edit(made["id"], by="bob", cause=CAUSE, changes={"review_by": None})
    assert cleared.value.field == "review_by"
    assert knowledge.edit(made["id"], by="bob", cause=CAUSE,
                          changes={"category": None})["category"] is None


def test_an_entry_turns_stale_when_the_clock_passes_its_review_date(knowledge, clock):
    case = closed_case(knowledge.app)
    made = knowledge.create_from_case(case.id, by="alice", cause=CAUSE, symptom="5xx",
                                      review_by=date(2026, 12, 1))
    today = lambda: clock.now().date()  # noqa: E731
    assert with_stale(made, today())["stale"] is False
    clock.advance(timedelta(days=29))  # 2026-12-01: due today, not yet passed
    assert with_stale(made, today())["stale"] is False
    clock.advance(timedelta(days=1))
    assert with_stale(made, today())["stale"] is True
    # Reviewing is an edit that moves the date on; every change is an event.
    reviewed = knowledge.edit(made["id"], by="bob", cause=CAUSE,
                              changes={"review_by": date(2027, 6, 1), "tags": ["db"]})
    assert with_stale(reviewed, today())["stale"] is False and reviewed["tags"] == ["db"]
    events = [type(e).__name__ for e in knowledge.app.stored_events(made["id"])]
    assert events == ["Created", "Edited"]


def test_feedback_is_one_vote_per_incident_and_the_latest_counts(knowledge):
    knowledge.note_incident(*opened("inc-9"))
    case = closed_case(knowledge.app)
    made = knowledge.create_from_case(case.id, by="alice", cause=CAUSE, symptom="5xx")
    knowledge.rate(made["id"], incident_id="inc-9", useful=True, by="bob", cause=CAUSE)
    again = knowledge.rate(made["id"], incident_id="inc-9", useful=True, by="bob", cause=CAUSE)
    assert (again["useful"], again["not_useful"]) == (1, 0)
    changed = knowledge.rate(made["id"], incident_id="inc-9", useful=False, by="bob", cause=CAUSE)
    assert (changed["useful"], changed["not_useful"]) == (0, 1)
    entry_events = [type(e).__name__ for e in knowledge.app.stored_events(made["id"])]
    assert entry_events == ["Created", "RecommendationRated", "RecommendationRated"]
    profile = knowledge.app.get_or_none(IncidentProfile.create_id("inc-9"))
    assert profile.rule == "HighErrorRate"
    envelope, contract, _ = opened("inc-9")
    assert knowledge.profile_of(envelope, contract) == []  # a redelivery notes nothing
    assert isinstance(knowledge.app.get_or_none(KnowledgeEntry.create_id(case.id)),
                      KnowledgeEntry)
