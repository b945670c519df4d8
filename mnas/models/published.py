"""Published ImageNet top-1 of the reference zoo, with the source of each figure.

Shown beside the estimates (``mnas zoo list``, a run's report) and used as a *test set*
of the accuracy models (``benchmarks/accuracy_models.py``): never fitted on. Each figure
belongs to the checkpoint of the network the zoo builds (TF-slim's layouts for
MobileNetV1 and the 0.75 MobileNetV3s; ``mnas.models.zoo``).
"""

from __future__ import annotations

__all__ = ["PUBLISHED_TOP1", "published_top1"]

#: zoo name -> (ImageNet val top-1 %, where it is published)
PUBLISHED_TOP1: dict[str, tuple[float, str]] = {
    "mobilenet_v1": (70.9, "TF-slim mobilenet_v1.md (MobileNet_v1_1.0_224)"),
    "mobilenet_v1_075": (68.4, "TF-slim mobilenet_v1.md (MobileNet_v1_0.75_224)"),
    "mobilenet_v1_050": (63.3, "TF-slim mobilenet_v1.md (MobileNet_v1_0.50_224)"),
    "mobilenet_v1_025": (49.8, "TF-slim mobilenet_v1.md (MobileNet_v1_0.25_224)"),
    "mobilenet_v2_140": (75.0, "TF-slim nets/mobilenet/README.md (mobilenet_v2_1.4_224)"),
    "mobilenet_v2": (71.8, "TF-slim nets/mobilenet/README.md (mobilenet_v2_1.0_224)"),
    "mobilenet_v2_075": (69.8, "TF-slim nets/mobilenet/README.md (mobilenet_v2_0.75_224)"),
    "mobilenet_v2_050": (65.4, "TF-slim nets/mobilenet/README.md (mobilenet_v2_0.5_224)"),
    "mobilenet_v2_035": (60.3, "TF-slim nets/mobilenet/README.md (mobilenet_v2_0.35_224)"),
    "mobilenet_v3_large": (75.2, "TF-slim nets/mobilenet/README.md (large 1.0)"),
    "mobilenet_v3_large_075": (73.3, "TF-slim nets/mobilenet/README.md (large 0.75)"),
    "mobilenet_v3_large_minimal": (72.3,
                                   "TF-slim nets/mobilenet/README.md (large minimalistic 1.0)"),
    "mobilenet_v3_small": (67.5, "TF-slim nets/mobilenet/README.md (small 1.0)"),
    "mobilenet_v3_small_075": (65.4, "TF-slim nets/mobilenet/README.md (small 0.75)"),
    "mobilenet_v3_small_minimal": (61.9,
                                   "TF-slim nets/mobilenet/README.md (small minimalistic 1.0)"),
    "mnasnet_b1_050": (67.734, "torchvision model card (mnasnet0_5)"),
    "mnasnet_b1_075": (71.180, "torchvision model card (mnasnet0_75)"),
    "mnasnet_b1": (73.456, "torchvision model card (mnasnet1_0)"),
    "mnasnet_b1_130": (76.506, "torchvision model card (mnasnet1_3)"),
    "mnasnet_a1": (75.2, "tensorflow/tpu models/official/mnasnet/README.md (mnasnet-a1)"),
    "efficientnet_lite0": (75.1, "tensorflow/tpu efficientnet/lite/README.md (lite0)"),
}


def published_top1(name: str) -> tuple[float, str] | None:
    """``(top-1 %, source)`` of a zoo name, or None where none is published here."""
    return PUBLISHED_TOP1.get(name)
