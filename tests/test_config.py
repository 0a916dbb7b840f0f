import random

import numpy as np
import pytest
import torch

from cvlib import config
from cvlib.checks import check


def test_profile_default_and_values(monkeypatch):
    monkeypatch.delenv("CVLIB_PROFILE", raising=False)
    assert config.get_profile() == "quick"
    monkeypatch.setenv("CVLIB_PROFILE", "FULL")
    assert config.get_profile() == "full"
    assert config.pick(quick=1, full=2) == 2


def test_wrong_profile_is_one_clear_line(monkeypatch):
    monkeypatch.setenv("CVLIB_PROFILE", "fast")
    with pytest.raises(ValueError) as err:
        config.get_profile()
    message = str(err.value)
    assert "'fast'" in message and "quick" in message and "full" in message and "\n" not in message


def test_device_choice(monkeypatch):
    monkeypatch.delenv("CVLIB_DEVICE", raising=False)
    expected = "cuda" if torch.cuda.is_available() else ("mps" if config._mps_available() else "cpu")
    assert config.get_device().type == expected
    assert config.get_device("cpu").type == "cpu"
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            config.get_device("cuda")


def test_seed_everything_is_reproducible():
    config.seed_everything(123)
    a = (random.random(), np.random.rand(), torch.rand(3))
    config.seed_everything(123)
    b = (random.random(), np.random.rand(), torch.rand(3))
    assert a[0] == b[0] and a[1] == b[1] and torch.equal(a[2], b[2])


def test_paths_follow_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("CVLIB_DATA", str(tmp_path / "d"))
    monkeypatch.setenv("CVLIB_CHECKPOINTS", str(tmp_path / "c"))
    assert config.data_dir() == tmp_path / "d" and (tmp_path / "d").is_dir()
    assert config.checkpoint_dir() == tmp_path / "c" and (tmp_path / "c").is_dir()


def test_lesson_header_prints_profile_device_seed_sizes(capsys):
    device = config.lesson_header(7, {"epochs": 3})
    out = capsys.readouterr().out
    assert "profile : quick" in out and f"device  : {device}" in out and "seed    : 7" in out
    assert "epochs = 3" in out and "torch" in out


def test_check_passes_prints_and_records(capsys, monkeypatch, tmp_path):
    metrics = tmp_path / "m.jsonl"
    monkeypatch.setenv("CVLIB_METRICS_FILE", str(metrics))
    check("accuracy", 0.98123, at_least=0.97, key=True)
    assert capsys.readouterr().out.strip() == "CHECK accuracy = 0.981 (required >= 0.97): ok"
    assert '"key": true' in metrics.read_text()


def test_check_fails_below_threshold_and_on_nan():
    with pytest.raises(AssertionError, match="FAILED"):
        check("accuracy", 0.5, at_least=0.97)
    with pytest.raises(AssertionError):
        check("loss", float("nan"), at_most=1.0)
    with pytest.raises(ValueError):
        check("nothing", 1.0)


def test_cvlib_url_mirror(monkeypatch):
    from cvlib.config import cvlib_url

    url = "https://download.pytorch.org/tutorial/hymenoptera_data.zip"
    monkeypatch.delenv("CVLIB_MIRROR", raising=False)
    assert cvlib_url(url) == url
    monkeypatch.setenv("CVLIB_MIRROR", "http://127.0.0.1:8000/")
    assert cvlib_url(url) == "http://127.0.0.1:8000/download.pytorch.org/tutorial/hymenoptera_data.zip"
    monkeypatch.setenv("CVLIB_MIRROR", "ftp://example")
    with pytest.raises(ValueError, match="CVLIB_MIRROR"):
        cvlib_url(url)
