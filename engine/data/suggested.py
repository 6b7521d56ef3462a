"""Suggested settings per dataset: a model and the settings that reach a good fit quickly on a small
CPU (TensorFlow Playground fits its sets in seconds; a newcomer should not guess sliders for
minutes). The Training page applies them when a dataset is chosen; tests/test_suggested.py holds
each one's figure, and bench/playground_fit.py times the 2D ones against the MLP's plain defaults.

Every figure below was measured on the 2-core CPU these were tuned on, with the dataset's default
options (the spiral's noise 0.1 included), training seed 0, while other jobs shared the machine.
The 2D sets use TF Playground's network (engine/models/playground.py), as TF Playground would: the
spiral with its sin features, which wrap the arms in a few hundred steps where x1, x2 alone need a
wide ReLU network and minutes.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from engine.data import saved_images
from engine.data.saved_points import PREFIX


@dataclass(frozen=True)
class Suggestion:
    model: str
    values: dict            # model params and training settings, as `validate` takes them
    dataset_options: dict = field(default_factory=dict)
    reaches: str = ""       # what it reaches, in words, e.g. ">= 0.95 validation accuracy in ~5 s"


# The transformer recipe of the issue on sequence tasks (tests/test_attention.py: reverse in ~20 s).
_TRANSFORMER = {"layers": 2, "d_model": 64, "heads": 4, "d_ff": 128, "lr": 0.003, "batch_size": 128}

SUGGESTED: dict[str, Suggestion] = {
    # ---- TensorFlow Playground's sets: 250 training points each --------------------------------------
    "circle": Suggestion("playground", {"lr": 0.03, "batch_size": 10, "epochs": 10},
                         reaches="1.00 validation accuracy (>= 0.95 from epoch 2), 10 epochs in about 1 s"),
    "xor": Suggestion("playground", {"lr": 0.01, "batch_size": 10, "epochs": 10},
                      reaches="0.99 validation accuracy (>= 0.95 by epoch 4-6), 10 epochs in about 1 s"),
    "gaussians": Suggestion("playground", {"lr": 0.03, "batch_size": 10, "epochs": 5},
                            reaches="1.00 validation accuracy from the first epoch, 5 epochs in under 1 s"),
    "spiral": Suggestion("playground", {"sin_x1": True, "sin_x2": True, "width": 16, "lr": 0.01, "batch_size": 10,
                                        "epochs": 30},
                         reaches="0.97-0.99 validation accuracy (>= 0.95 by epoch 10-17), 30 epochs in 1-5 s"),
    "plane": Suggestion("playground", {"lr": 0.01, "batch_size": 10, "epochs": 10},
                        reaches="validation MSE below 0.001 (the values' variance is 0.21), 10 epochs in about 1 s"),
    "multi_gaussian": Suggestion("playground", {"activation": "relu", "width": 32, "depth": 3, "lr": 0.01,
                                                "batch_size": 25, "epochs": 100},
                                 reaches="validation MSE 0.003-0.005 (the values' variance is 0.088), "
                                         "100 epochs in about 3 s"),
    # ---- the 2D GAN's targets (GAN Lab) ---------------------------------------------------------------
    "ring": Suggestion("gan2d", {"epochs": 30}, reaches="all 8 modes covered within the first epochs (about 1 s)"),
    "grid": Suggestion("gan2d", {"epochs": 30}, reaches="the 25 modes take about 2,500 steps (about 20 epochs)"),
    "line": Suggestion("gan2d", {"epochs": 30}, reaches="the generator lies along the line within a few epochs"),
    "moons": Suggestion("gan2d", {"epochs": 30}, reaches="both moons covered within a few epochs"),
    # ---- images ----------------------------------------------------------------------------------------
    "mnist": Suggestion("cnn", {"channels": 16, "lr": 0.002, "epochs": 1},
                        reaches="0.98 validation accuracy in one epoch (about 50 s on 2 busy CPU cores)"),
    "digits": Suggestion("cnn", {"batch_size": 32, "epochs": 10},
                         reaches="0.98 validation accuracy, 10 epochs in about 6 s"),
    "fashion-mnist": Suggestion("cnn", {"lr": 0.002, "epochs": 2},
                                reaches="at least 0.88 validation accuracy in two epochs (checked with Debian's "
                                        "package: about 5 minutes on a busy 2-core CPU)"),
    "shapes": Suggestion("cnn", {"channels": 32, "blocks": 3, "batchnorm": True, "lr": 0.002, "epochs": 8},
                         reaches="0.42 validation accuracy after 8 epochs (chance is 0.10: a harder set than the "
                                 "digits; measured by bench/pointing.py, 18 min on 2 heavily shared CPU cores)"),
    # ---- sequence tasks ------------------------------------------------------------------------------
    "copy": Suggestion("transformer", {**_TRANSFORMER, "epochs": 6},
                       reaches="0.98 exact match, 6 epochs in about 40-80 s"),
    "reverse": Suggestion("transformer", {**_TRANSFORMER, "epochs": 6},
                          reaches="1.00 exact match, 6 epochs in about 40-60 s"),
    "sort": Suggestion("transformer", {**_TRANSFORMER, "epochs": 6},
                       reaches="0.99 exact match, 6 epochs in about 40 s"),
    "addition": Suggestion("transformer", {**_TRANSFORMER, "epochs": 10},
                           reaches="0.97 exact match (0.99 of the digits), 10 epochs in about 60 s"),
    "dates": Suggestion("transformer", {**_TRANSFORMER, "epochs": 3},
                        reaches="0.96 exact match, 3 epochs in about 60 s (0.99 after 6)"),
    "count_ones": Suggestion("recurrent", {"cell": "lstm", "hidden": 20, "lr": 0.01, "batch_size": 64, "epochs": 6},
                             reaches="1.00 validation accuracy (every count right), 6 epochs in about 9 s"),
}


# A user's own points (engine/data/saved_points.py): TF Playground's network with room to bend, as
# for the spiral, but with x1 and x2 only (sin features suit the Playground's own scale, not any data).
OWN_POINTS = Suggestion("playground", {"activation": "relu", "width": 16, "depth": 3, "lr": 0.01, "batch_size": 10,
                                       "epochs": 50},
                        reaches="a boundary that bends where your points need it; not measured on every set")


# A user's own photos (engine/data/saved_images.py): the pretrained backbone frozen, its features cached,
# a linear head on them (tests/test_transfer.py: red discs vs blue stripes, 1.00 in 6 epochs).
OWN_IMAGES = Suggestion("transfer", {"mode": "frozen", "lr": 0.003, "batch_size": 8, "epochs": 10},
                        reaches="the head trains in seconds once the features are computed (about 0.1-0.3 s "
                                "an image on a CPU, once); 1.00 on two visibly different classes")


# The built-in transfer example that needs no upload: the shapes rendered at 224 px (the backbone's input),
# a small set whose features are computed once. Measured with the README's CLI command on the 2-core CPU under a
# load of about 18: 0.92 validation accuracy on the ten classes after 10 epochs, 8 min wall but 45 s of CPU,
# nearly all of it the 400 images' features (later runs on the same set read them from the cache).
SHAPES_TRANSFER = Suggestion("transfer", {"mode": "frozen", "aug_copies": 0, "lr": 0.003, "batch_size": 16,
                                          "epochs": 10},
                             dataset_options={"size": 224, "n_train": 300, "n_val": 100},
                             reaches="about 0.92 validation accuracy on the ten shapes; the 400 images' features "
                                     "are computed once (about 0.1 s of CPU each), then each epoch takes a fraction "
                                     "of a second")


def suggested(dataset: str) -> Suggestion | None:
    """The suggested settings for a dataset (None: it has none)."""
    if dataset.startswith(PREFIX):
        return OWN_POINTS
    if dataset.startswith(saved_images.PREFIX):
        return OWN_IMAGES
    return SUGGESTED.get(dataset)
