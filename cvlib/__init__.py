"""cvlib: the thin helper package of the computer-vision course.

Modules (one concern each, data flows one way: data -> models -> train -> viz):

- ``cvlib.config``  profile (quick|full), device, seeding, paths, lesson header
- ``cvlib.checks``  check cells: assert a lesson's result and print it rounded
- ``cvlib.data``    datasets (bundled-offline, generated, real torchvision-backed)
- ``cvlib.models``  small classic CNNs, pretrained backbones, detection and GAN nets
- ``cvlib.train``   fit / evaluate loops, history, progress bars, checkpoints
- ``cvlib.viz``     image grids, curves, confusion matrices, overlays
- ``cvlib.widgets`` ipywidgets helpers used by the lessons

Submodules are imported explicitly (``from cvlib import config``) so that
``import cvlib`` stays cheap.
"""

__version__ = "0.1.0"
