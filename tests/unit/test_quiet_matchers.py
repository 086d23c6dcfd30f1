"""Matchers read and match as Alertmanager's do (pkg/labels): operators, quoting and
escapes, the set form, anchored regexes, and a missing label equal to the empty string."""
from __future__ import annotations

import pytest

from services.notifier.quiet.matchers import (
    MatchType, check_label_names, parse_list, parse_matcher, parse_matchers,
)
from shared.errors import Invalid


@pytest.mark.parametrize("text, name, type_, value", [
    ("foo=bar", "foo", MatchType.EQUAL, "bar"),
    ("foo = bar", "foo", MatchType.EQUAL, "bar"),
    ('foo="bar"', "foo", MatchType.EQUAL, "bar"),
    ("foo!=bar", "foo", MatchType.NOT_EQUAL, "bar"),
    ('foo=~"b.*"', "foo", MatchType.REGEX, "b.*"),
    ("foo!~b.*", "foo", MatchType.NOT_REGEX, "b.*"),
    ("foo=", "foo", MatchType.EQUAL, ""),
    ('foo=""', "foo", MatchType.EQUAL, ""),
    ('quote="She said: \\"Hi\\""', "quote", MatchType.EQUAL, 'She said: "Hi"'),
    ('nl="a\\nb"', "nl", MatchType.EQUAL, "a\nb"),
    ('bs="a\\\\b"', "bs", MatchType.EQUAL, "a\\b"),
    ('spurious="a\\qb"', "spurious", MatchType.EQUAL, "a\\qb"),  # a lone \ stays literal
    ("trailing=a\\", "trailing", MatchType.EQUAL, "a\\"),
    ("store=深圳宝安店", "store", MatchType.EQUAL, "深圳宝安店"),
    ("a:b_c=1", "a:b_c", MatchType.EQUAL, "1"),
])
def test_one_matcher_parses_as_alertmanager_reads_it(text, name, type_, value):
    matcher = parse_matcher(text)
    assert (matcher.name, matcher.type, matcher.value) == (name, type_, value)


def test_the_set_form_splits_on_commas_outside_quotes():
    matchers = parse_matchers('{foo = "bar", dings != "bums", msg="a, b", }')
    assert [str(m) for m in matchers] == ['foo="bar"', 'dings!="bums"', 'msg="a, b"']
    assert [str(m) for m in parse_matchers("foo=bar,dings!=bums")] == ['foo="bar"', 'dings!="bums"']
    assert parse_matchers("{}") == []


def test_the_canonical_form_parses_back_to_the_same_matcher():
    for text in ['q="say \\"hi\\"\\n\\\\"', 'r=~"a|b"', "s!=x"]:
        matcher = parse_matcher(text)
        assert parse_matcher(str(matcher)) == matcher


@pytest.mark.parametrize("text, why", [
    ("foo", "is not a matcher"),
    ("1foo=bar", "is not a matcher"),
    ("foo==bar", "must be escaped"),  # the value '=bar' is fine; '"' is not
    ('foo="bar', "never closed"),
    ('foo="ba"r"', "must be escaped"),
    ('foo=~"(a"', "not a valid regex"),
    ('foo=~"(a)\\1"', "backreferences"),
    ('foo=~"a(?=b)"', "lookarounds"),
    ('foo!~"(?<!x)y"', "lookarounds"),
    ('foo=~"(?P<n>a)(?P=n)"', "named backreferences"),
    ('foo=~"a++"', "possessive"),
    ('foo=~"a{1001}"', "at most 1000"),
    ('foo=~"a{2,5000}"', "at most 1000"),
    ("foo=~" + "(" * 500 + ")" * 500, "not a valid regex"),
])
def test_a_matcher_that_does_not_parse_is_refused_naming_field_and_matcher(text, why):
    if text == "foo==bar":
        assert parse_matcher(text).value == "=bar"  # as in Alertmanager
        return
    with pytest.raises(Invalid) as refused:
        parse_list(["team=db", text], "matchers")
    assert refused.value.field == "matchers[1]"
    assert why in refused.value.message


def test_regexes_are_anchored_at_both_ends():
    matcher = parse_matcher('instance=~"db-.*"')
    assert matcher.matches({"instance": "db-1"})
    assert not matcher.matches({"instance": "old-db-1"})
    assert not parse_matcher('x=~"a"').matches({"x": "ab"})
    assert not parse_matcher('x=~"a|b"').matches({"x": "ab"})  # (?:a|b), not a|b$
    assert not parse_matcher('x=~"a"').matches({"x": "a\n"})   # no $-before-newline


def test_a_missing_label_is_the_empty_string():
    assert parse_matcher("team=").matches({})
    assert parse_matcher('team!="db"').matches({})
    assert not parse_matcher("team=db").matches({})
    assert parse_matcher('team=~".*"').matches({})
    assert parse_matcher('team!~".+"').matches({})


def test_equal_labels_must_be_label_names_listed_once():
    assert check_label_names(["store", "region"], "equal") == ["store", "region"]
    with pytest.raises(Invalid, match=r"equal\[1\]"):
        check_label_names(["store", "not a label"], "equal")
    with pytest.raises(Invalid, match="twice"):
        check_label_names(["store", "store"], "equal")
