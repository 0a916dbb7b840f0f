import matplotlib.figure
import pytest
import torch
from torch.utils.data import DataLoader, Subset

from cvlib.config import seed_everything
from cvlib.data.digits import DigitsDataset
from cvlib.models.classic import LeNet5
from cvlib.train import evaluate, fit, load_checkpoint, save_checkpoint
from cvlib.viz import panel_grid, plot_confusion_matrix, plot_curves, plot_history, show_images


@pytest.fixture(scope="module")
def loaders():
    seed_everything(0)
    train = Subset(DigitsDataset("train"), range(256))
    test = DigitsDataset("test")
    return DataLoader(train, batch_size=32, shuffle=True), DataLoader(test, batch_size=128)


def test_tiny_fit_lowers_loss_and_beats_chance(loaders):
    train, test = loaders
    model = LeNet5()
    before = evaluate(model, test)
    history = fit(model, train, test, epochs=4, lr=3e-3, progress=False)
    assert len(history.train_loss) == len(history.val_acc) == 4
    assert history.train_loss[-1] < history.train_loss[0]
    assert history.val_loss[-1] < before["loss"]
    assert history.val_acc[-1] > 0.5  # chance is 0.1


def test_nan_loss_stops_with_a_clear_message(loaders):
    train, _ = loaders
    model = LeNet5()

    def nan_loss(logits, y):
        return logits.sum() * float("nan")

    with pytest.raises(FloatingPointError, match="Lower the learning rate"):
        fit(model, train, epochs=1, loss_fn=nan_loss, progress=False)


def test_checkpoint_round_trip(tmp_path):
    a, b = LeNet5(), LeNet5()
    path = save_checkpoint(a, tmp_path / "ck" / "lenet.pt", epoch=3, acc=0.9)
    extra = load_checkpoint(b, path)
    assert extra == {"epoch": 3, "acc": 0.9}
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))
    with pytest.raises(FileNotFoundError, match="train the model first"):
        load_checkpoint(b, tmp_path / "missing.pt")


def test_viz_returns_titled_figures_with_labelled_axes():
    images = torch.rand(10, 1, 28, 28)
    fig = show_images(images, labels=list(range(10)), preds=[0] * 10, ncols=5, title="Digits")
    assert isinstance(fig, matplotlib.figure.Figure) and "Digits" in fig._suptitle.get_text()
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[0] == "0 (0)" and titles[1] == "0 (1)"

    fig = plot_history(
        {"train_loss": [1.0, 0.5], "val_loss": [1.1, 0.6], "train_acc": [0.5, 0.8], "val_acc": [0.4, 0.7]}
    )
    assert [ax.get_xlabel() for ax in fig.axes] == ["epoch", "epoch"] and fig.axes[1].get_ylabel() == "accuracy"

    fig = plot_confusion_matrix([0, 1, 1, 2], [0, 1, 2, 2], class_names=["a", "b", "c"])
    ax = fig.axes[0]
    assert ax.get_xlabel() == "predicted class" and ax.get_ylabel() == "true class" and ax.get_title()

    fig = plot_curves([1, 2, 3], {"x": [0.1, 0.2, 0.3]}, xlabel="n", ylabel="acc", title="T", spread={"x": [0.01] * 3})
    assert fig.axes[0].get_title() == "T"


def test_panel_grid_hides_unused_panels_and_sizes_the_figure():
    fig, axes = panel_grid(5, ncols=3, size=2.0)
    assert len(axes) == 5 and len(fig.axes) == 6  # 2 rows of 3, the sixth panel hidden
    assert not fig.axes[5].axison and all(ax.axison for ax in axes)
    assert all(not ax.get_xticks().size and not ax.get_yticks().size for ax in axes)
    assert tuple(fig.get_size_inches()) == pytest.approx((6.0, 4.6))
    fig, axes = panel_grid(1, ncols=8, size=1.0)  # one panel: one column, at least 4 inches wide
    assert len(fig.axes) == 1 and tuple(fig.get_size_inches()) == pytest.approx((4.0, 1.6))


def test_smooth_is_a_moving_average_over_full_windows():
    from cvlib.viz import smooth

    assert smooth([1.0, 2.0, 3.0, 4.0], 2).tolist() == [1.5, 2.5, 3.5]
    assert smooth(torch.tensor([1.0, 3.0]), 5).tolist() == [1.0, 3.0], "shorter than the window: unchanged"
    with pytest.raises(ValueError, match="positive int"):
        smooth([1.0, 2.0], 0)
    with pytest.raises(ValueError, match="1-D"):
        smooth([[1.0, 2.0]], 1)


def test_fit_leaves_the_model_in_eval_mode_ready_to_predict():
    model = LeNet5()
    data = [(torch.rand(4, 1, 28, 28), torch.tensor([0, 1, 2, 3]))]
    fit(model, data, data, epochs=1, progress=False)
    assert not model.training and not any(m.training for m in model.modules())
