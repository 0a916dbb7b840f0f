"""Models for the lessons.

- ``cvlib.models.classic``     LeNet-5, a small VGG-style and a small ResNet-style CNN (28-32 px input)
- ``cvlib.models.pretrained``  one entry point for pretrained backbones (offline EfficientNet-Lite0,
  torchvision ResNet-18 in ``full``)

Import the submodule you need (``from cvlib.models.classic import LeNet5``).
"""
