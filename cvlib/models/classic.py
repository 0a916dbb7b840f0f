"""Small classic CNNs for 28-32 px images (digits, MNIST, CIFAR-10).

Used by lessons 01, 02, 04, 05, 06 and 07.

All models take ``(B, C, H, W)`` float images (any value range, typically [0, 1])
and return ``(B, num_classes)`` logits. Each checks its input shape and says
what to change when it is wrong (the most common beginner error).
"""

from __future__ import annotations

import torch
from torch import nn

from cvlib.validate import check_images


class LeNet5(nn.Module):
    """LeNet-5 (LeCun et al., 1998) with ReLU and max pooling, as usually taught today.

    Input ``(B, in_channels, 28..32, 28..32)``; 28 px input is padded to 32 by the
    first convolution (``padding=2``), as in the common MNIST adaptation.
    Parameters for 1 channel, 10 classes, 32 px: 61,706 (see the test).
    """

    def __init__(self, in_channels: int = 1, num_classes: int = 10, input_size: int = 28) -> None:
        super().__init__()
        pad = (32 - input_size) // 2
        self.in_channels = in_channels
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, kernel_size=5, padding=pad),  # -> 6 x 28 x 28
            nn.ReLU(),
            nn.MaxPool2d(2),  # -> 6 x 14 x 14
            nn.Conv2d(6, 16, kernel_size=5),  # -> 16 x 10 x 10
            nn.ReLU(),
            nn.MaxPool2d(2),  # -> 16 x 5 x 5
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(16 * 5 * 5, 120),
            nn.ReLU(),
            nn.Linear(120, 84),
            nn.ReLU(),
            nn.Linear(84, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_images(x, channels=self.in_channels, min_size=8, finite=False, what="the images given to LeNet5")
        return self.classifier(self.features(x))


def conv_bn_relu(cin: int, cout: int, batch_norm: bool = True) -> nn.Sequential:
    """3x3 convolution (padding 1, keeps H and W) + optional batch norm + ReLU."""
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, 3, padding=1, bias=not batch_norm)]
    if batch_norm:
        layers.append(nn.BatchNorm2d(cout))
    layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class SmallVGG(nn.Module):
    """VGG-style CNN: stages of stacked 3x3 convolutions, each stage halving H and W.

    Args:
        widths: channels of each stage (two 3x3 convs per stage, then 2x2 max pool).
        batch_norm / dropout: the switches of the lesson's ablation.

    Input ``(B, in_channels, H, W)`` with H, W >= 8; output ``(B, num_classes)`` logits.
    """

    def __init__(
        self,
        in_channels: int = 1,
        num_classes: int = 10,
        widths: tuple[int, ...] = (16, 32, 64),
        batch_norm: bool = True,
        dropout: float = 0.3,
    ) -> None:
        super().__init__()
        self.in_channels = in_channels
        stages: list[nn.Module] = []
        cin = in_channels
        for w in widths:
            stages += [conv_bn_relu(cin, w, batch_norm), conv_bn_relu(w, w, batch_norm), nn.MaxPool2d(2)]
            cin = w
        self.features = nn.Sequential(*stages)
        self.classifier = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout), nn.Linear(cin, num_classes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_images(x, channels=self.in_channels, min_size=8, finite=False, what="the images given to SmallVGG")
        return self.classifier(self.features(x))


class BasicBlock(nn.Module):
    """ResNet basic block: two 3x3 convs with a residual (identity or 1x1 projection) connection."""

    def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + self.shortcut(x))


class SmallResNet(nn.Module):
    """ResNet-style CNN for small images: a 3x3 stem, then one basic block per width
    (stride 2 from the second on), global average pooling and a linear head.

    Input ``(B, in_channels, H, W)``; output ``(B, num_classes)`` logits.
    """

    def __init__(self, in_channels: int = 1, num_classes: int = 10, widths: tuple[int, ...] = (16, 32, 64)) -> None:
        super().__init__()
        self.in_channels = in_channels
        blocks: list[nn.Module] = [conv_bn_relu(in_channels, widths[0])]  # the stem
        cin = widths[0]
        for i, w in enumerate(widths):
            blocks.append(BasicBlock(cin, w, stride=1 if i == 0 else 2))
            cin = w
        self.features = nn.Sequential(*blocks)
        self.classifier = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_images(x, channels=self.in_channels, min_size=8, finite=False, what="the images given to SmallResNet")
        return self.classifier(self.features(x))


def conv_output_size(size: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """Output side length of a convolution or pooling: floor((n + 2p - d(k-1) - 1) / s) + 1."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1
