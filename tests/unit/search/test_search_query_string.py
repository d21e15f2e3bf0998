"""The Lucene-style syntax users type: fields mapped through the whitelist, dangerous syntax refused."""

from __future__ import annotations

import pytest

from pixtract.search.domain.mapping import mapped_fields
from pixtract.search.domain.query_string import QUERY_FIELDS, QueryError, rewrite_query_string, uses_query_syntax


@pytest.mark.parametrize(
    ("typed", "sent"),
    [
        ("label:dog", "labels:dog"),
        ("Category:food AND place:paris", "categories:food AND location.place:paris"),
        ('vendor:"Corner Shop"', 'receipt.vendor:"Corner Shop"'),
        ("-label:cat +type:receipt", "-labels:cat +document_type:receipt"),
        ("label:(dog OR cat)", "labels:(dog OR cat)"),
        ("taken:[2020-01-01 TO 2020-12-31]", "taken_at:[2020-01-01 TO 2020-12-31]"),
        ("faces:>2", "faces:>2"),
        ("Total: 12.50", "receipt.total: 12.50"),
    ],
)
def test_whitelisted_fields_become_index_fields(typed: str, sent: str) -> None:
    assert rewrite_query_string(typed) == sent


@pytest.mark.parametrize(
    ("typed", "sent"),
    [
        # Not on the whitelist: the colon is text, so the field can never be queried.
        ("owner_id:someone-else", "owner_id\\:someone-else"),
        ("deleted:true", "deleted\\:true"),
        ("-owner_id:x", "-owner_id\\:x"),
        ("(owner_id:x)", "(owner_id\\:x)"),
        ("_exists_:labels", "_exists_\\:labels"),
        # Every later colon of a term is text too, even behind a whitelisted field.
        ("label:a:owner_id:x", "labels:a\\:owner_id\\:x"),
        ("foo~owner_id:x", "foo~owner_id\\:x"),
        ("Subtotal: 12.50", "Subtotal\\: 12.50"),
        ("meeting at 12:30", "meeting at 12\\:30"),
    ],
)
def test_other_field_names_are_plain_text(typed: str, sent: str) -> None:
    assert rewrite_query_string(typed) == sent


def test_every_query_field_exists_in_the_mapping() -> None:
    assert set(QUERY_FIELDS.values()) <= mapped_fields()
    assert "owner_id" not in QUERY_FIELDS.values()
    assert "deleted" not in QUERY_FIELDS.values()


@pytest.mark.parametrize("typed", ["/rec.*/", "label:/d.g/", "-/x/", "cat (/x/)", "a AND /[a-z]+/"])
def test_regular_expressions_are_refused(typed: str) -> None:
    with pytest.raises(QueryError, match="Regular expressions"):
        rewrite_query_string(typed)


def test_a_slash_inside_a_word_is_text_not_a_regular_expression() -> None:
    assert rewrite_query_string("paid 12/05/2024") == "paid 12\\/05\\/2024"


@pytest.mark.parametrize("typed", ["*ceipt", "?eceipt", "label:*og", "dog OR *at", "-*x"])
def test_leading_wildcards_are_refused(typed: str) -> None:
    with pytest.raises(QueryError, match="wildcard"):
        rewrite_query_string(typed)


@pytest.mark.parametrize("typed", ["rec*", "re?eipt", "label:*", "date:[* TO 2020-01-01]", "taken:{2020 TO *}"])
def test_trailing_wildcards_and_open_ranges_are_kept(typed: str) -> None:
    assert "*" in rewrite_query_string(typed) or "?" in rewrite_query_string(typed)


def test_phrases_are_kept_whole_with_what_looks_like_syntax_inside() -> None:
    assert rewrite_query_string('"owner_id:x /not a regex/ *star"~2') == '"owner_id:x /not a regex/ *star"~2'


def test_escaped_characters_are_kept() -> None:
    assert rewrite_query_string("a\\:b \\*x \\/y\\/") == "a\\:b \\*x \\/y\\/"


@pytest.mark.parametrize("typed", ['"unclosed', 'label:"golden retriever', '"ends with escape\\"'])
def test_an_unclosed_quote_is_a_query_error(typed: str) -> None:
    with pytest.raises(QueryError, match="quotation mark"):
        rewrite_query_string(typed)


def test_a_lone_trailing_backslash_is_a_query_error() -> None:
    with pytest.raises(QueryError, match="backslash"):
        rewrite_query_string("receipt\\")
    assert rewrite_query_string("receipt\\\\") == "receipt\\\\"


@pytest.mark.parametrize(
    ("text", "syntax"),
    [
        ("receipts", False),
        ("golden retriever beach", False),
        ("t-shirt", False),
        ("dog AND cat", True),
        ('"exact phrase"', True),
        ("label:dog", True),
        ("rec*", True),
        ("-cat", True),
        ("dog and cat", False),
    ],
)
def test_plain_words_are_told_apart_from_syntax(text: str, syntax: bool) -> None:
    assert uses_query_syntax(text) is syntax
