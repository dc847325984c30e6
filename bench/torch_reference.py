"""PyTorch reference: the five networks in PyTorch eager, the baseline cnnbench is compared to.

    .venv-torch/bin/python bench/torch_reference.py --models resnet18 --json torch.json

Same architectures as ``src/cnnbench/models`` (same trainable parameter counts; PyTorch
keeps batch-norm statistics as buffers, not parameters), trained with Adam and
cross-entropy on uint8 images scaled by 1/255 per batch, as cnnbench does. For each model
it times ``--repeats`` windows of ``--steps`` training steps after ``--warmup-steps`` and
keeps the median, in float32 and in bf16
autocast with channels-last memory format, and prints a table and JSON in the shape of
``cnnbench bench``. Not part of the project's dependencies: install PyTorch into
its own environment (``make torch-reference`` does, with ``torch==2.13.0``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch
from torch import nn

# cnnbench.machine needs only the standard library: this environment has no cnnbench
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from cnnbench.machine import cpu_features, cpu_model  # noqa: E402

MODELS = ("lenet5", "alexnet8", "vgg16", "inception10", "resnet18")
PRECISIONS = ("float32", "bf16-autocast-channels-last")


def conv_bn_relu(cin: int, cout: int, k: int, stride: int = 1, bias: bool = True,
                 relu: bool = True) -> nn.Sequential:
    layers = [nn.Conv2d(cin, cout, k, stride, padding=k // 2, bias=bias), nn.BatchNorm2d(cout,
              eps=1e-3, momentum=0.01)]
    return nn.Sequential(*layers, nn.ReLU(inplace=True)) if relu else nn.Sequential(*layers)


def dense_head(cin: int, units: tuple[int, ...], dropout: float) -> list[nn.Module]:
    layers: list[nn.Module] = [nn.Flatten()]
    for width in units:
        layers += [nn.Linear(cin, width), nn.ReLU(inplace=True), nn.Dropout(dropout)]
        cin = width
    return layers + [nn.Linear(cin, 10)]


def lenet5() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(3, 6, 5), nn.Sigmoid(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.Sigmoid(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.Sigmoid(), nn.Linear(120, 84), nn.Sigmoid(), nn.Linear(84, 10))


def alexnet8() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(3, 96, 3), nn.BatchNorm2d(96, eps=1e-3), nn.ReLU(inplace=True),
        nn.MaxPool2d(3, 2),
        nn.Conv2d(96, 256, 3), nn.BatchNorm2d(256, eps=1e-3), nn.ReLU(inplace=True),
        nn.MaxPool2d(3, 2),
        nn.Conv2d(256, 384, 3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(384, 384, 3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
        *dense_head(1024, (2048, 2048), 0.5))


def vgg16() -> nn.Module:
    layers: list[nn.Module] = []
    cin = 3
    for filters, convs in ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3)):
        for _ in range(convs):
            layers.append(conv_bn_relu(cin, filters, 3))
            cin = filters
        layers += [nn.MaxPool2d(2, 2, ceil_mode=True), nn.Dropout(0.2)]
    return nn.Sequential(*layers, *dense_head(512, (512, 512), 0.2))


class InceptionModule(nn.Module):
    def __init__(self, cin: int, ch: int, stride: int) -> None:
        super().__init__()
        self.b1 = conv_bn_relu(cin, ch, 1, stride)
        self.b2 = nn.Sequential(conv_bn_relu(cin, ch, 1, stride), conv_bn_relu(ch, ch, 3))
        self.b3 = nn.Sequential(conv_bn_relu(cin, ch, 1, stride), conv_bn_relu(ch, ch, 5))
        self.b4 = nn.Sequential(nn.MaxPool2d(3, 1, padding=1), conv_bn_relu(cin, ch, 1, stride))

    def forward(self, x):
        return torch.cat([self.b1(x), self.b2(x), self.b3(x), self.b4(x)], dim=1)


def inception10() -> nn.Module:
    layers: list[nn.Module] = [conv_bn_relu(3, 16, 3)]
    cin = 16
    for ch in (16, 32):
        layers += [InceptionModule(cin, ch, 2), InceptionModule(4 * ch, ch, 1)]
        cin = 4 * ch
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, 10))


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.body = nn.Sequential(conv_bn_relu(cin, cout, 3, stride, bias=False),
                                  conv_bn_relu(cout, cout, 3, bias=False, relu=False))
        self.shortcut = (conv_bn_relu(cin, cout, 1, stride, bias=False, relu=False)
                         if stride != 1 else nn.Identity())
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        return self.relu(self.body(x) + self.shortcut(x))


def resnet18() -> nn.Module:
    layers: list[nn.Module] = [conv_bn_relu(3, 64, 3, bias=False)]
    cin = 64
    for stage, filters in enumerate((64, 128, 256, 512)):
        for block in range(2):
            stride = 2 if stage > 0 and block == 0 else 1
            layers.append(BasicBlock(cin, filters, stride))
            cin = filters
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, 10))


BUILDERS = {"lenet5": lenet5, "alexnet8": alexnet8, "vgg16": vgg16,
            "inception10": inception10, "resnet18": resnet18}


def measure(name: str, precision: str, batch_size: int, steps: int, warmup_steps: int,
            repeats: int) -> list[float]:
    """Training images/s of ``name`` in eager mode, for each of ``repeats`` timed windows."""
    torch.manual_seed(0)
    model = BUILDERS[name]()
    channels_last = precision != "float32"
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (batch_size, 32, 32, 3), dtype=torch.uint8, generator=gen)
    labels = torch.randint(0, 10, (batch_size,), generator=gen)

    def step() -> None:
        x = images.permute(0, 3, 1, 2).float().div_(255)  # NHWC uint8 -> NCHW float, per batch
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision != "float32"):
            loss = loss_fn(model(x), labels)
        loss.backward()
        optimizer.step()

    for _ in range(warmup_steps):
        step()
    windows = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(steps):
            step()
        windows.append(steps * batch_size / (time.perf_counter() - start))
    return windows


def trainable_params(name: str) -> int:
    return sum(p.numel() for p in BUILDERS[name]().parameters() if p.requires_grad)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--precisions", default=",".join(PRECISIONS))
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=20, help="steps per timed window")
    parser.add_argument("--repeats", type=int, default=3, help="timed windows (median kept)")
    parser.add_argument("--warmup-steps", type=int, default=5)
    parser.add_argument("--json", help="file to write the results to")
    args = parser.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)
    machine = {"cpu": cpu_model(), "cpu_features": cpu_features(), "cores": os.cpu_count(),
               "framework": "torch", "torch": torch.__version__, "threads":
               torch.get_num_threads(), "python": platform.python_version(),
               # as cnnbench.tools.bench.kernel_caps (this environment has no Keras)
               "kernel_caps": {k: os.environ[k] for k in ("ONEDNN_MAX_CPU_ISA",
                               "ATEN_CPU_CAPABILITY") if os.environ.get(k)}}
    print(f"{'model':<12} {'precision':<28} {'params':>10} {'train img/s':>12}", flush=True)
    results = []
    for name in args.models.split(","):
        for precision in args.precisions.split(","):
            windows = measure(name, precision, args.batch_size, args.steps, args.warmup_steps,
                              args.repeats)
            img_s = statistics.median(windows)
            row = {"model": name, "batch_size": args.batch_size, "precision": precision,
                   "train_img_s": round(img_s, 1),
                   "train_img_s_windows": [round(w, 1) for w in windows],
                   "trainable_params": trainable_params(name)}
            results.append(row)
            print(f"{name:<12} {precision:<28} {row['trainable_params']:>10} {img_s:>12.1f}",
                  flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": machine, "results": results},
                                              indent=2) + "\n")


if __name__ == "__main__":
    main()
