"""One device rule in cvlib: ``device=None`` means "where the model already is", and no helper
moves a model unless asked (issue 11). On a CUDA machine the same helpers are run on the GPU."""

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from cvlib import gan, metrics, train, transfer
from cvlib.models.gan import Generator
from cvlib.models.utils import model_device, resolve_device

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


class Pinned(nn.Module):
    """A tiny classifier that fails if anything moves it, and records where its inputs were."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Flatten(), nn.Linear(12, 6), nn.ReLU())
        self.classifier = nn.Sequential(nn.Linear(6, 6), nn.Linear(6, 3))
        self.seen: set[str] = set()
        self.frozen_on: torch.device | None = None

    def forward(self, x):
        self.seen.add(x.device.type)
        return self.classifier(self.features(x))

    def _apply(self, fn, *args, **kwargs):
        if self.frozen_on is not None:
            raise AssertionError("a cvlib helper moved the model although no device was given")
        return super()._apply(fn, *args, **kwargs)


def pinned(device: str) -> Pinned:
    model = Pinned().to(device)
    model.frozen_on = torch.device(device)
    return model


def loader(n: int = 16) -> DataLoader:
    g = torch.Generator().manual_seed(0)
    return DataLoader(TensorDataset(torch.rand(n, 3, 2, 2, generator=g), torch.arange(n) % 3), batch_size=8)


def test_model_device_known_values():
    assert model_device(nn.Linear(2, 2)) == torch.device("cpu")
    assert model_device(nn.ReLU()) == torch.device("cpu"), "no parameters: CPU"
    bn = nn.BatchNorm2d(2, affine=False)  # buffers only
    assert model_device(bn) == torch.device("cpu")

    class Holder:  # like cvlib.models.pretrained.Backbone: a .model module and bound methods
        def __init__(self):
            self.model = nn.Linear(2, 2)

        def embed(self, x):
            return self.model(x)

    holder = Holder()
    assert model_device(holder) == torch.device("cpu") and model_device(holder.embed) == torch.device("cpu")
    assert resolve_device(nn.Linear(2, 2), "meta") == torch.device("meta"), "an explicit device wins"
    assert model_device(object()) == torch.device("cpu")


@pytest.mark.parametrize("device", DEVICES)
def test_classification_helpers_leave_the_model_where_it_is(device):
    model = pinned(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    loss, acc = train.train_one_epoch(model, loader(), opt, progress=False)
    assert loss > 0 and 0 <= acc <= 1
    logits, labels = train.predict(model, loader())
    assert logits.shape == (16, 3) and logits.device.type == "cpu" and labels.shape == (16,)
    assert set(train.evaluate(model, loader())) == {"loss", "acc"}
    history = train.fit(model, loader(), loader(), epochs=1, progress=False)
    assert len(history.train_loss) == 1
    feats, probs = metrics.classifier_features(model, torch.rand(5, 3, 2, 2), batch_size=2)
    assert feats.shape == (5, 6) and probs.shape == (5, 3)
    assert model.seen == {torch.device(device).type}, "batches went to the model's device"
    assert next(model.parameters()).device.type == torch.device(device).type


@pytest.mark.parametrize("device", DEVICES)
def test_transfer_features_follow_the_extractor(device):
    net = pinned(device)

    class Backboneish:
        def __init__(self, model):
            self.model = model

        def embed(self, x):
            return self.model.features(x)

    feats = transfer.extract_features(Backboneish(net).embed, torch.rand(5, 3, 2, 2), batch_size=2, progress=False)
    assert feats.shape == (5, 6) and feats.device.type == "cpu"


@pytest.mark.parametrize("device", DEVICES)
def test_gan_sample_follows_the_generator(device):
    generator = Generator(nz=8, ngf=8, img_size=28).to(device)
    out = gan.sample(generator, 3, batch_size=2)
    assert out.shape[0] == 3 and out.device.type == "cpu"
    assert next(generator.parameters()).device.type == torch.device(device).type


def test_fit_moves_the_model_only_when_asked():
    model = Pinned()  # not frozen: moving is allowed when asked
    train.fit(model, loader(), epochs=1, device="cpu", progress=False)
    assert model.seen == {"cpu"}
