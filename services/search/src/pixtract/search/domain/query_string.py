"""The Lucene-style syntax users may type, made safe before it reaches `query_string`.

Kept: AND / OR / NOT, + and -, "phrases", (groups), prefix*, word~ and ranges. Rewritten:
`field:value` for the fields in QUERY_FIELDS (their user-facing name becomes the index
field); any other `name:` is plain text ("Total: 12", "12:30"), so no query can reach
owner_id, deleted or any field we do not mean to expose. Refused with a QueryError:
regular expressions and leading wildcards (both can scan every term of the index).
A `/` inside a word ("12/05/2024") is text, not the start of a regular expression.
"""

from __future__ import annotations

import re

# User-facing field name -> the index field it searches.
QUERY_FIELDS: dict[str, str] = {
    "text": "text",
    "label": "labels",
    "labels": "labels",
    "parent": "label_parents",
    "category": "categories",
    "categories": "categories",
    "place": "location.place",
    "country": "location.country",
    "filename": "filename",
    "file": "filename",
    "make": "camera.make",
    "model": "camera.model",
    "vendor": "receipt.vendor",
    "total": "receipt.total",
    "currency": "receipt.currency",
    "type": "document_type",
    "document_type": "document_type",
    "color": "colors",
    "colour": "colors",
    "faces": "faces",
    "taken": "taken_at",
    "uploaded": "uploaded_at",
    "date": "effective_date",
}

SYNTAX_CHARACTERS = frozenset('"*?:()[]{}~^\\/')
BOOLEAN_OPERATORS = frozenset({"AND", "OR", "NOT", "&&", "||"})
PREFIX_OPERATORS = "+-!"
# Outside a phrase, these end a term; everything else belongs to it.
TERM_BREAKS = frozenset('()"')
# Characters that would start syntax we refuse or mean something we do not want inside a term.
ESCAPED_IN_TERMS = frozenset(":/")
FIELD_NAME = re.compile(r"[A-Za-z_]+")
# A lone * is "any value" (field:*) or an open range end ([* TO 2020], [2020 TO *]), not a wildcard scan.
OPEN_ENDS = frozenset({"*", "*]", "*}"})


class QueryError(ValueError):
    """The query cannot be run; the message tells the person who typed it why."""


def uses_query_syntax(text: str) -> bool:
    """Plain words go to a fuzzy multi_match; anything that looks like Lucene syntax to query_string."""
    if any(ch in SYNTAX_CHARACTERS for ch in text):
        return True
    return any(word in BOOLEAN_OPERATORS or word[0] in PREFIX_OPERATORS for word in text.split())


def rewrite_query_string(text: str) -> str:
    """The query with field names mapped and stray `:` and `/` escaped; QueryError for refused syntax."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace() or ch in "()":
            out.append(ch)
            i += 1
        elif ch == '"':
            end = _closing_quote(text, i)
            out.append(text[i : end + 1])
            i = end + 1
        else:
            j = i
            while j < n and not text[j].isspace() and text[j] not in TERM_BREAKS:
                j += 2 if text[j] == "\\" else 1
            out.append(_rewrite_term(text[i:j]))
            i = j
    return "".join(out)


def _closing_quote(text: str, start: int) -> int:
    i = start + 1
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == '"':
            return i
        i += 1
    raise QueryError('A quotation mark is not closed: add the closing " or remove it.')


def _rewrite_term(term: str) -> str:
    if _ends_with_lone_backslash(term):
        raise QueryError("The query ends with a lone backslash (\\): remove it or escape it as \\\\.")
    body = term.lstrip(PREFIX_OPERATORS)
    prefix = term[: len(term) - len(body)]
    colon = _first_unescaped(body, ":")
    if colon is not None:
        name, value = body[:colon], body[colon + 1 :]
        if FIELD_NAME.fullmatch(name) and (field := QUERY_FIELDS.get(name.lower())):
            return f"{prefix}{field}:{_rewrite_value(value)}"
    return prefix + _rewrite_value(body)


def _rewrite_value(value: str) -> str:
    if not value:
        # The value follows as a "phrase" or a (group).
        return value
    if value[0] == "/":
        raise QueryError('Regular expressions (/.../) are not supported; search for words, "phrases" or prefix*.')
    if value[0] in "*?" and value not in OPEN_ENDS:
        raise QueryError(f"A word cannot start with a wildcard ({value}): put * or ? after a few letters, as in rec*.")
    out: list[str] = []
    i = 0
    while i < len(value):
        if value[i] == "\\":
            out.append(value[i : i + 2])
            i += 2
            continue
        out.append("\\" + value[i] if value[i] in ESCAPED_IN_TERMS else value[i])
        i += 1
    return "".join(out)


def _first_unescaped(text: str, char: str) -> int | None:
    i = 0
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == char:
            return i
        i += 1
    return None


def _ends_with_lone_backslash(term: str) -> bool:
    trailing = len(term) - len(term.rstrip("\\"))
    return trailing % 2 == 1
