"""Models for the lessons.

- ``cvlib.models.classic``     LeNet-5, a small VGG-style and a small ResNet-style CNN (28-32 px input)
- ``cvlib.models.pretrained``  one entry point for pretrained backbones, ``load_pretrained``
  (offline EfficientNet-Lite0, torchvision ResNet-18 in ``full``), all in pixel space [0, 1]
- ``cvlib.models.efficientnet_lite``  the EfficientNet-Lite0 module the offline weights load into
- ``cvlib.models.maskrcnn``    Mask R-CNN builders for lesson 03 (EfficientNet-Lite0 + FPN offline, torchvision's COCO model)
- ``cvlib.models.utils``       where a model lives: ``device=None`` in any cvlib helper means the model's device
- ``cvlib.models.gan``         DCGAN generator / discriminator, plain and class-conditional (lesson 05)
- ``cvlib.models.cyclegan``    CycleGAN's ResNet generator and PatchGAN discriminator (lesson 06)
- ``cvlib.models.segmenters``  torchvision's LR-ASPP / DeepLabV3 (MobileNetV3) in pixel space, COCO-pretrained
  or from scratch: ``torchvision_segmenter`` (lesson 08, full)
- ``cvlib.models.unet``        U-Net and the EfficientNet-Lite0 U-Net (lessons 08, 09)
- ``cvlib.models.keypointnet`` keypoint heatmap network, coordinate regressor, COCO Keypoint R-CNN (lesson 09)
- ``cvlib.models.centernet``   CenterNet on EfficientNet-Lite0 (lesson 09)
- ``cvlib.models.pix2pix``     pix2pix's U-Net generator (lesson 10)
- ``cvlib.models.perceptual``  ``FeatureTaps``: a frozen network's feature maps at named layers (lesson 10)
- ``cvlib.models.superres``    ``SRNet``: residual blocks + PixelShuffle, on top of bicubic (lesson 10)

Only nn.Modules and their builders live here (plus the shared model utilities of
``cvlib.models.utils``); losses, training steps and sampling belong to the task modules
(e.g. ``cvlib.gan``). Dependencies flow data -> models -> task -> metrics -> viz.

Import the submodule you need (``from cvlib.models.classic import LeNet5``).
"""
