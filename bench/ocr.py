"""OCR accuracy and cost per engine setting, against Tesseract, on the evaluation set.

    python -m bench.ocr                 # every setting on the sampled set (about 3 minutes)
    python -m bench.ocr --full          # the whole set (81 images), several minutes a setting
    python -m bench.ocr --settings chosen,tesseract
    python -m bench.ocr --table FILE    # the table of a run saved with --json FILE

Each setting runs in its own child process, so its peak RSS is its own. Figures: character
error rate (edit distance over the ground truth's length, whitespace collapsed), word
recall (ground-truth words found, punctuation at word ends ignored), receipt field accuracy
(vendor, date and total exactly right), document-type and language accuracy, and the
latency of the whole extract_text (decode, engine, rows, fields) per image.

Tesseract (Debian `tesseract-ocr`, `--psm 6`, `OMP_THREAD_LIMIT=1`) runs through the same
post-processing (its word boxes grouped into lines), so its field figures compare fairly.
It is installed with apt when missing and running as root, else skipped with a message.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from bench.ocr_set import Sample, sampled, samples

MAX_PIXELS = 100_000_000
MAX_SIDE = 2400
RECEIPT_FIELDS = ("vendor", "date", "total")


@dataclass(frozen=True)
class Setting:
    name: str
    description: str
    engine: dict[str, Any]
    preprocessing: dict[str, Any]


CHOSEN = {"use_cls": False}
NO_UPSCALE = {"upscale_below": 0}
UPSCALE_800 = {"upscale_below": 800}
SETTINGS = (
    Setting("wheel-defaults", "RapidOCR 3.10 as shipped (det min side 736, score 0.5, cls on)", {}, NO_UPSCALE),
    Setting("det-max-960", "wheel defaults, det limit_type max 960",
            {"det_limit_type": "max", "det_limit_side_len": 960}, NO_UPSCALE),
    Setting("chosen", "wheel defaults without the 0/180 degree classifier (the service's defaults)", CHOSEN,
            NO_UPSCALE),
    Setting("upscale-800", "chosen + pictures under 800 px enlarged (Lanczos)", CHOSEN, UPSCALE_800),
    Setting("upscale-1200", "chosen + pictures under 1200 px enlarged", CHOSEN, {"upscale_below": 1200}),
    Setting("upscale-800+score-0.3", "upscale-800 + text score 0.3", {**CHOSEN, "text_score": 0.3}, UPSCALE_800),
    Setting("upscale-800+deskew", "upscale-800 + projection-profile deskew", CHOSEN, {**UPSCALE_800, "deskew": True}),
)  # fmt: skip
TESSERACT = "tesseract"


# ----- metrics ------------------------------------------------------------------------------


def edit_distance(a: str, b: str) -> int:
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i]
        for j, cb in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def normalise(text: str) -> str:
    return " ".join(text.split())


def cer(truth: str, found: str) -> float:
    truth, found = normalise(truth), normalise(found)
    return edit_distance(truth, found) / max(len(truth), 1)


def _words(text: str) -> list[str]:
    return [w for w in (token.strip(".,:;!?()\"'") for token in text.split()) if w]


def word_recall(truth: str, found: str) -> float:
    expected = Counter(_words(truth))
    seen = Counter(_words(found))
    return sum((expected & seen).values()) / max(sum(expected.values()), 1)


def expected_type(sample: Sample) -> str | None:
    """The type a sample must get; None where none is fair (a photo of a screen is no screenshot)."""
    if sample.kind == "screenshot" and sample.variant in {"rotated", "perspective"}:
        return None
    return sample.kind


def field_matches(name: str, expected: str, found: str | None) -> bool:
    if found is None:
        return False
    if name == "vendor":
        return normalise(expected).casefold() == normalise(found).casefold()
    return expected == found


# ----- one setting, in its own process --------------------------------------------------------


def _tesseract_lines(data: bytes) -> list[Any]:
    """Tesseract's words grouped into its own lines, with boxes, as OcrLine."""
    from pixtract.ocr.domain.text import OcrLine

    completed = subprocess.run(
        ["tesseract", "stdin", "stdout", "--psm", "6", "tsv"],
        input=data,
        capture_output=True,
        check=True,
        env={**os.environ, "OMP_THREAD_LIMIT": "1"},
    )
    grouped: dict[tuple[str, ...], list[list[str]]] = {}
    for row in completed.stdout.decode("utf-8", "replace").splitlines()[1:]:
        parts = row.split("\t")
        if len(parts) == 12 and parts[0] == "5" and parts[11].strip():
            grouped.setdefault(tuple(parts[1:5]), []).append(parts)
    lines = []
    for words in grouped.values():
        x0 = min(int(w[6]) for w in words)
        y0 = min(int(w[7]) for w in words)
        x1 = max(int(w[6]) + int(w[8]) for w in words)
        y1 = max(int(w[7]) + int(w[9]) for w in words)
        confidence = statistics.fmean(float(w[10]) for w in words) / 100
        lines.append(OcrLine(" ".join(w[11] for w in words), confidence, (x0, y0, x1, y1)))
    return lines


def _run_tesseract(sample: Sample) -> Any:
    from pixtract.ocr.domain.ocr import interpret, load_image
    from pixtract.ocr.domain.preprocess import picture_facts

    pixels, scale = load_image(sample.image, max_pixels=MAX_PIXELS, max_side=MAX_SIDE)
    facts = picture_facts(pixels, (round(pixels.shape[1] / scale), round(pixels.shape[0] / scale)))
    return interpret(_tesseract_lines(sample.image), facts)


def run_setting(name: str, chosen: Sequence[Sample]) -> dict[str, Any]:
    if name == TESSERACT:
        extract: Callable[[Sample], Any] = _run_tesseract
        extract(chosen[0])
    else:
        from pixtract.ocr.adapters.rapid import RapidOcrEngine, RapidOptions
        from pixtract.ocr.domain.ocr import Preprocessing, extract_text

        setting = next(s for s in SETTINGS if s.name == name)
        engine = RapidOcrEngine(RapidOptions(**setting.engine))
        preprocessing = Preprocessing(**setting.preprocessing)

        def extract(sample: Sample) -> Any:
            return extract_text(
                engine, sample.image, max_pixels=MAX_PIXELS, max_side=MAX_SIDE, preprocessing=preprocessing
            )

        extract(chosen[0])  # warm-up: sessions and the language model load on first use
    per_sample = []
    for sample in chosen:
        started = time.perf_counter()
        result = extract(sample)
        seconds = time.perf_counter() - started
        per_sample.append(
            {
                "name": sample.name,
                "variant": sample.variant,
                "seconds": seconds,
                "cer": cer(sample.text, result.content),
                "recall": word_recall(sample.text, result.content),
                "type_expected": expected_type(sample),
                "type_found": result.document_type,
                "language_expected": sample.language,
                "language_found": result.language,
                "fields": {key: [value, result.fields.get(key)] for key, value in sample.fields.items()},
                "key_values": [
                    [key, value, any(kv.key == key and kv.value == value for kv in result.key_values)]
                    for key, value in sample.key_values
                ],
            }
        )
    usage = resource.getrusage(resource.RUSAGE_CHILDREN if name == TESSERACT else resource.RUSAGE_SELF)
    return {"setting": name, "samples": per_sample, "peak_rss_mb": usage.ru_maxrss / 1024}


# ----- summary --------------------------------------------------------------------------------


def summarise(run: dict[str, Any]) -> dict[str, Any]:
    rows = run["samples"]
    seconds = sorted(r["seconds"] for r in rows)
    fields = [
        field_matches(key, expected, found)
        for r in rows
        for key, (expected, found) in r["fields"].items()
        if key in RECEIPT_FIELDS
    ]
    typed = [r for r in rows if r["type_expected"] is not None]
    languages = [r for r in rows if r["language_expected"]]
    key_values = [ok for r in rows for _, _, ok in r["key_values"]]
    page = [r for r in rows if r["variant"] == "scan"]
    return {
        "setting": run["setting"],
        "images": len(rows),
        "cer": statistics.fmean(r["cer"] for r in rows),
        "word_recall": statistics.fmean(r["recall"] for r in rows),
        "page_cer": page[0]["cer"] if page else None,
        "receipt_fields": sum(fields) / max(len(fields), 1),
        "document_type": sum(r["type_found"] == r["type_expected"] for r in typed) / max(len(typed), 1),
        "language": sum(r["language_found"] == r["language_expected"] for r in languages) / max(len(languages), 1),
        "form_pairs": sum(key_values) / max(len(key_values), 1),
        "p50_ms": 1000 * statistics.median(seconds),
        "p99_ms": 1000 * seconds[min(len(seconds) - 1, round(0.99 * (len(seconds) - 1)))],
        "peak_rss_mb": run["peak_rss_mb"],
    }


def print_table(summaries: Sequence[dict[str, Any]]) -> None:
    header = (
        "| setting | CER | word recall | page CER | receipt fields | doc type | language | form pairs "
        "| p50 ms | p99 ms | peak RSS MB |"
    )
    print(header)
    print("|---" * (header.count("|") - 1) + "|")
    for s in summaries:
        page = f"{s['page_cer']:.1%}" if s["page_cer"] is not None else "-"
        print(
            f"| {s['setting']} | {s['cer']:.1%} | {s['word_recall']:.1%} | {page} | {s['receipt_fields']:.1%} "
            f"| {s['document_type']:.1%} | {s['language']:.1%} | {s['form_pairs']:.1%} | {s['p50_ms']:.0f} "
            f"| {s['p99_ms']:.0f} | {s['peak_rss_mb']:.0f} |"
        )


def tesseract_available() -> bool:
    if shutil.which("tesseract"):
        return True
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return False
    print("installing tesseract-ocr with apt-get (bench only) ...", file=sys.stderr)
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    subprocess.run(["apt-get", "update"], check=False, **quiet)  # type: ignore[call-overload]
    subprocess.run(["apt-get", "install", "-y", "tesseract-ocr"], check=False, **quiet)  # type: ignore[call-overload]
    return shutil.which("tesseract") is not None


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.ocr", description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="all 81 images instead of the 33-image sample")
    parser.add_argument("--settings", default=",".join([s.name for s in SETTINGS] + [TESSERACT]))
    parser.add_argument("--json", help="also write every per-image figure to this file")
    parser.add_argument("--table", help="only print the table of a file written by --json")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.table:
        with open(args.table) as saved:
            print_table([summarise(run) for run in json.load(saved)])
        return
    chosen = list(samples()) if args.full else sampled()
    if args.worker:
        print(json.dumps(run_setting(args.worker, chosen)))
        return
    names = [name.strip() for name in args.settings.split(",") if name.strip()]
    if TESSERACT in names and not tesseract_available():
        print("Tesseract is not installed (and cannot be: not root or no apt-get); skipping it.")
        names.remove(TESSERACT)
    print(f"OCR evaluation: {len(chosen)} images ({'full set' if args.full else 'sample'}), one process per setting")
    runs = []
    for name in names:
        command = [sys.executable, "-m", "bench.ocr", "--worker", name] + (["--full"] if args.full else [])
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        completed = subprocess.run(command, capture_output=True, text=True, check=True, env=env)
        runs.append(json.loads(completed.stdout.strip().splitlines()[-1]))
        print(f"  {name}: done", file=sys.stderr)
    print_table([summarise(run) for run in runs])
    for setting in SETTINGS:
        if setting.name in names:
            print(f"  {setting.name}: {setting.description}")
    if args.json:
        with open(args.json, "w") as out:
            json.dump(runs, out, indent=1)


if __name__ == "__main__":
    main()
