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


def _line_plot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 3), dpi=100)
    ax.plot([0, 1, 2], [0, 1, 4], label="y = x^2")
    ax.set(title="a curve", xlabel="x", ylabel="y")
    return fig


def _photo_grid():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import skimage.data

    photo = skimage.data.astronaut()
    fig, axes = plt.subplots(2, 4, figsize=(8, 4), dpi=100)
    for i, ax in enumerate(axes.flat):
        ax.imshow(photo[i * 32 : i * 32 + 256, i * 16 : i * 16 + 256])
        ax.set_title("a photograph")
        ax.axis("off")
    return fig


def test_figure_bytes_keeps_plots_png_and_stores_photo_grids_as_smaller_jpeg():
    import matplotlib.pyplot as plt

    from cvlib.config import PNG_LIMIT_BYTES, figure_bytes

    fig = _line_plot()
    fmt, data = figure_bytes(fig)
    assert fmt == "png" and data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) <= PNG_LIMIT_BYTES
    grid = _photo_grid()
    fmt, data = figure_bytes(grid)
    assert fmt == "jpeg" and data[:2] == b"\xff\xd8"
    png_size = len(figure_bytes(grid, limit=10**9)[1])
    assert len(data) < png_size / 2
    plt.close("all")


def test_setup_plots_in_ipython_gives_each_figure_exactly_one_image_output():
    import matplotlib.pyplot as plt
    from IPython.core.interactiveshell import InteractiveShell

    from cvlib.config import setup_plots

    shell = InteractiveShell.instance()
    try:
        setup_plots()
        assert plt.rcParams["figure.dpi"] == 100
        for fig, expected in ((_line_plot(), "image/png"), (_photo_grid(), "image/jpeg")):
            data, _ = shell.display_formatter.format(fig)
            images = sorted(k for k in data if k.startswith("image/"))
            assert images == [expected]
            assert len(data[expected]) > 1000
    finally:
        InteractiveShell.clear_instance()
        plt.close("all")
