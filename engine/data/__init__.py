"""Offline datasets: one Dataset description per set, loaded without any download."""
from engine.data import images, playground, saved_points, sequences, shapes  # noqa: F401  (modules register their sets)
from engine.data import distributions  # noqa: F401  (the 2D GAN's targets)
from engine.data import saved_images  # noqa: F401  (a person's own image folders: transfer learning)
from engine.data.base import Dataset, DatasetInfo, get_info, list_datasets, load_dataset, train_size

__all__ = ["Dataset", "DatasetInfo", "get_info", "list_datasets", "load_dataset", "train_size"]
