"""cvlib.models.clip: the OpenCLIP checkpoint download (hash in the file name), strict loading, the dual-encoder wrapper.

A tiny OpenCLIP architecture (registered from a JSON config written by the test) stands in for
ViT-B/32, so the real download -> hash check -> ``weights_only`` load -> strict ``load_state_dict``
path runs in a second; the checkpoint is served by a local HTTP server through ``CVLIB_MIRROR``.
"""

import hashlib
import json

import fullfixtures
import pytest
import torch

open_clip = pytest.importorskip("open_clip")

from cvlib.models import clip as clipmod
from cvlib.models.pretrained import PretrainedUnavailableError
from cvlib.multimodal import embed_images, embed_texts, zero_shot_predict

TINY = {
    "embed_dim": 16,
    "quick_gelu": True,
    "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "head_width": 16, "patch_size": 16},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}
URL = "https://github.com/mlfoundations/open_clip/releases/download/v0.2-weights/tiny-{}.pt"


@pytest.fixture
def tiny_clip(tmp_path, monkeypatch):
    """A served checkpoint of the tiny architecture, named with its SHA-256 prefix like the real ones."""
    config = tmp_path / "configs" / "tiny-clip-test.json"
    config.parent.mkdir()
    config.write_text(json.dumps(TINY))
    open_clip.add_model_config(config)
    torch.manual_seed(0)
    model = open_clip.create_model("tiny-clip-test", pretrained=None)
    staging = tmp_path / "staging.pt"
    torch.save({"state_dict": {f"module.{k}": v.half() for k, v in model.state_dict().items()}}, staging)
    digest = hashlib.sha256(staging.read_bytes()).hexdigest()[:8]
    served = tmp_path / "served" / "github.com/mlfoundations/open_clip/releases/download/v0.2-weights"
    served.mkdir(parents=True)
    (served / f"tiny-{digest}.pt").write_bytes(staging.read_bytes())
    monkeypatch.setitem(clipmod.CLIP_WEIGHTS, ("tiny-clip-test", "fixture"), URL.format(digest))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    with fullfixtures.LocalMirror(tmp_path / "served") as mirror:
        monkeypatch.setenv("CVLIB_MIRROR", mirror.url)
        yield {"model": model, "mirror": mirror, "digest": digest, "served": served}


def test_load_clip_downloads_checks_and_loads_the_weights(tiny_clip):
    clip = clipmod.load_clip("tiny-clip-test", "fixture")
    # the weights are the served ones (fp16 in the file, fp32 in the model), not a fresh initialisation
    ref = tiny_clip["model"].state_dict()
    for name, value in clip.model.state_dict().items():
        assert torch.equal(value, ref[name].half().float()), name
    assert not clip.training and clip.image_size == 32
    assert len(tiny_clip["mirror"].requests) == 1
    clipmod.load_clip("tiny-clip-test", "fixture")  # cached in $TORCH_HOME/hub/checkpoints: no second request
    assert len(tiny_clip["mirror"].requests) == 1


def test_clip_encoder_embeds_unit_vectors_and_runs_zero_shot(tiny_clip):
    clip = clipmod.load_clip("tiny-clip-test", "fixture")
    images = torch.rand(5, 3, 20, 28)  # any size: resized inside
    img = embed_images(clip, images)
    txt = embed_texts(clip, clip.tokenize(["a photo of a cat.", "a photo of a dog."]))
    assert img.shape == (5, 16) and txt.shape == (2, 16)
    assert torch.allclose(img.norm(dim=1), torch.ones(5), atol=1e-5)
    pred, sims = zero_shot_predict(
        clip, images, [clip.tokenize(["a cat.", "a photo of a cat."]), clip.tokenize(["a dog."])]
    )
    assert pred.shape == (5,) and sims.shape == (5, 2)
    with pytest.raises(ValueError, match="list"):
        clip.tokenize("a cat")


def test_a_checkpoint_with_the_wrong_hash_is_rejected(tiny_clip, monkeypatch):
    wrong = "0" * 8 if tiny_clip["digest"] != "0" * 8 else "1" * 8
    (tiny_clip["served"] / f"tiny-{wrong}.pt").write_bytes(
        (tiny_clip["served"] / f"tiny-{tiny_clip['digest']}.pt").read_bytes()
    )
    monkeypatch.setitem(clipmod.CLIP_WEIGHTS, ("tiny-clip-test", "fixture"), URL.format(wrong))
    with pytest.raises(RuntimeError, match="hash"):
        clipmod.load_clip("tiny-clip-test", "fixture")


def test_a_checkpoint_for_another_architecture_is_rejected(tiny_clip, tmp_path):
    bigger = dict(TINY, embed_dim=24)
    config = tmp_path / "configs" / "tiny-clip-test-24.json"
    config.write_text(json.dumps(bigger))
    open_clip.add_model_config(config)
    clipmod.CLIP_WEIGHTS[("tiny-clip-test-24", "fixture")] = clipmod.CLIP_WEIGHTS[("tiny-clip-test", "fixture")]
    try:
        with pytest.raises(ValueError, match="does not fit"):
            clipmod.load_clip("tiny-clip-test-24", "fixture")
    finally:
        del clipmod.CLIP_WEIGHTS[("tiny-clip-test-24", "fixture")]


def test_offline_and_unknown_models_give_clear_errors(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setenv("CVLIB_MIRROR", "http://127.0.0.1:9")  # nothing listens on the discard port
    with pytest.raises(PretrainedUnavailableError, match="checkpoints"):
        clipmod.load_clip()
    with pytest.raises(ValueError, match="no checkpoint known"):
        clipmod.load_clip("ViT-B-32", "nonexistent")
