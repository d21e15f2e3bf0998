"""The language of a text, by py3langid (langid.py's naive Bayes over byte n-grams, model in
the wheel, pure Python and numpy).

Restricted to the languages the recogniser reads (PP-OCRv6: Latin-script European languages,
Chinese, Japanese) plus a few common others, since the full 97-language model calls short
receipts Latin or Malagasy. Too little text, or a doubtful answer, gives "" (unknown).
"""

from __future__ import annotations

from functools import cache
from typing import Any

LANGUAGES = [
    "en",
    "de",
    "fr",
    "es",
    "it",
    "nl",
    "pt",
    "sv",
    "da",
    "no",
    "fi",
    "pl",
    "cs",
    "sk",
    "hu",
    "ro",
    "hr",
    "sl",
    "et",
    "lv",
    "lt",
    "tr",
    "ca",
    "eu",
    "gl",
    "ga",
    "is",
    "la",
    "id",
    "ms",
    "ja",
    "zh",
    "ko",
    "ru",
    "uk",
    "el",
    "ar",
]
MIN_LETTERS = 20
MIN_PROBABILITY = 0.6


@cache
def _identifier() -> Any:
    # Loading the model takes about 0.7 s: once per process, on first use.
    from py3langid.langid import MODEL_FILE, LanguageIdentifier  # type: ignore[import-untyped]

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(LANGUAGES)
    return identifier


def detect_language(text: str) -> str:
    """ISO 639-1 code, or "" when the text is too short or the model unsure."""
    if sum(ch.isalpha() for ch in text) < MIN_LETTERS:
        return ""
    # Receipts shout; the model learnt from ordinary text.
    language, probability = _identifier().classify(text.lower())
    return str(language) if probability >= MIN_PROBABILITY else ""
