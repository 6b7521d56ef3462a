"""Transfer learning (#16 part 4): a person's image folders as datasets, the `transfer` model on the
pretrained EfficientNet-Lite0 (frozen, features cached; or fine-tuning), its runs opened for saliency."""
import io
import json
import zipfile

import numpy as np
import pytest
import torch

from engine.core import loading
from engine.core.registry import validate
from engine.core.runs import RunStore
from engine.core.trainer import TrainingJob
from engine.data import augment, image_folders, load_dataset, saved_images
from engine.data.image_folders import ImagesError, read_archive, read_folder
from engine.models.transfer import TransferNet
from engine.saliency.maps import attribute
from engine.models import feature_cache
from tests.transfer_images import image_zip, png


# ---- archives and folders ---------------------------------------------------------------------------
def test_an_archive_becomes_images_with_its_bad_files_skipped_and_listed():
    """Input: 3 discs + 3 stripes under a wrapping folder, plus a broken .jpg, a text file, a file
    outside the class folders, a zip-slip name, macOS' __MACOSX junk."""
    content = image_zip(3, wrap="photos/", extra={"photos/discs/broken.jpg": b"not a jpeg",
                                                   "photos/notes.txt": b"hello", "photos/loose.png": b"x",
                                                   "../../evil.png": b"x", "__MACOSX/photos/._0.png": b"x"})
    images = read_archive(content, "photos.zip")
    assert images.classes == ("discs", "stripes") and images.class_counts() == [3, 3]
    assert images.images.shape == (6, 224, 224, 3) and images.images.dtype == np.uint8
    assert images.skipped == ("../../evil.png: a path outside the archive's folder, ignored",
                              "photos/notes.txt: not an image file (expected .jpg, .jpeg, .png, .bmp, .gif, "
                              ".webp, .tif, .tiff)",
                              "photos/loose.png: not inside a class folder",
                              "photos/discs/broken.jpg: cannot be read as an image (an unknown format, or a "
                              "damaged file)")
    # the red discs are red and the blue stripes blue after resizing
    red = images.images[images.labels == 0].reshape(-1, 3).astype(int)
    blue = images.images[images.labels == 1].reshape(-1, 3).astype(int)
    assert ((red[:, 0] > 150) & (red[:, 2] < 80)).any() and ((blue[:, 2] > 150) & (blue[:, 0] < 80)).any()


@pytest.mark.parametrize("content, message", [
    (b"PK\x03\x04 this is no zip", "photos.zip is not a zip archive"),
    (image_zip(3, classes=("discs",)), "photos.zip holds one class only (discs): a classifier needs two or more"),
    (image_zip(0, extra={"discs/a.png": png(np.zeros((8, 8, 3), np.uint8)),
                         "stripes/a.png": png(np.zeros((8, 8, 3), np.uint8)),
                         "stripes/b.png": png(np.zeros((8, 8, 3), np.uint8))}),
     "class discs of photos.zip has fewer than two readable images"),
    (image_zip(0, extra={"readme.txt": b"x"}), "photos.zip holds no readable images in class folders"),
], ids=["not a zip", "one class", "a class with one image", "no images"])
def test_a_bad_archive_is_refused_with_what_to_change(content, message):
    with pytest.raises(ImagesError) as err:
        read_archive(content, "photos.zip")
    assert str(err.value).startswith(message)


def test_the_limits_are_stated_and_checked_before_decoding(monkeypatch):
    """Input: 3 + 3 images with the image limit set to 5; a 2 KB zip of 2 MB of zeros with the size limit at 1 MB."""
    monkeypatch.setattr(image_folders, "MAX_IMAGES", 5)
    with pytest.raises(ImagesError, match=r"^photos.zip holds 6 images, more than the limit of 5 \(at most 200 MB"):
        read_archive(image_zip(3), "photos.zip")
    monkeypatch.undo()
    buffer = io.BytesIO()  # a small zip that expands: two members of 1 MB of zeros
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("a/1.png", bytes(2**20))
        archive.writestr("b/1.png", bytes(2**20))
    monkeypatch.setattr(image_folders, "MAX_ARCHIVE_BYTES", 2**20)
    assert len(buffer.getvalue()) < 2**20
    with pytest.raises(ImagesError, match=r"^photos.zip unpacks to 2 MB, more than the limit of 1 MB \(at most"):
        read_archive(buffer.getvalue(), "photos.zip")
    assert image_folders.LIMITS.startswith("at most 200 MB and 1,000 images, one folder per class")


def test_a_folder_reads_like_its_zip(tmp_path):
    with zipfile.ZipFile(io.BytesIO(image_zip(3))) as archive:
        archive.extractall(tmp_path / "set")
    (tmp_path / "set" / "discs" / "broken.png").write_bytes(b"no")
    images, zipped = read_folder(tmp_path / "set"), read_archive(image_zip(3))
    assert images.classes == zipped.classes and np.array_equal(images.images, zipped.images)
    assert images.skipped == ("discs/broken.png: cannot be read as an image (an unknown format, or a damaged file)",)


def test_saved_images_are_one_dataset_by_content_with_a_stratified_split(tmp_path):
    images = read_archive(image_zip(10), "set.zip")
    name = saved_images.save_images(images, tmp_path)
    assert saved_images.save_images(read_archive(image_zip(10), "again.zip"), tmp_path) == name
    assert sorted(p.name for p in (tmp_path / "images").iterdir()) == [f"{name[7:]}.json", f"{name[7:]}.npz"]
    data = load_dataset(name, {"val_fraction": 0.2, "seed": 3}, data_dir=tmp_path)
    assert data.x_train.shape == (16, 3, 224, 224) and data.x_val.shape == (4, 3, 224, 224)
    assert data.y_val.tolist() == [0, 0, 1, 1] and 0.0 <= float(data.x_train.min()) <= float(data.x_train.max()) <= 1.0
    assert data.info.title == "Your images: set.zip (20 images, 2 classes)" and data.info.classes == ("discs", "stripes")
    assert saved_images.train_size(name, {"val_fraction": 0.2, "seed": 0}, tmp_path) == 16


# ---- training --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """20 red-disc and 20 blue-stripe images, frozen backbone, 6 epochs (the features once)."""
    root = tmp_path_factory.mktemp("transfer")
    name = saved_images.save_images(read_archive(image_zip(20), "set.zip"), root)
    config = validate("transfer", name, {"batch_size": 8, "epochs": 6, "lr": 0.003, "aug_copies": 0})
    store = RunStore(root / "runs")
    job = TrainingJob(config, store, device="cpu", data_dir=root)
    job.run()
    return root, store, job, name


def test_the_frozen_backbone_learns_two_visible_classes_from_cached_features(trained):
    root, store, job, _ = trained
    assert job.progress.status == "completed", job.progress.message
    assert job.progress.final["val_acc"] >= 0.9
    cached = list((root / "features").iterdir())
    assert len(cached) == 1
    saved = torch.load(cached[0], weights_only=True)
    assert saved["x_train"].shape == (32, 1280) and saved["x_val"].shape == (8, 1280)


def test_a_second_run_on_the_same_images_reads_the_cached_features(trained, monkeypatch):
    root, store, _, name = trained

    def computed(*args, **kwargs):
        raise AssertionError("the features were computed again")
    monkeypatch.setattr(feature_cache, "compute_features", computed)
    config = validate("transfer", name, {"batch_size": 8, "epochs": 1, "lr": 0.01, "aug_copies": 0})
    job = TrainingJob(config, store, device="cpu", data_dir=root)
    job.run()
    assert job.progress.status == "completed", job.progress.message
    assert len(list((root / "features").iterdir())) == 1


def test_a_transfer_run_opens_like_any_run_and_gives_a_grad_cam(trained):
    """The Saliency page's path: load_run with the conv_classifier need, then Grad-CAM on a test image."""
    root, store, job, _ = trained
    opened = loading.load_run(store, job.run_id, device="cpu", data_dir=root, need="conv_classifier")
    assert opened.classes == ("discs", "stripes") and opened.epoch == 6
    x = opened.data.x_val[:1]
    maps = attribute(opened.model, x, int(opened.data.y_val[0]), "gradcam")
    assert maps.shape == (1, 224, 224) and float(maps.max()) > 0
    assert opened.model(x).argmax(1).item() == int(opened.data.y_val[0])
    # Guided backprop is guided on it: no ReLU6 left for captum to miss (engine/models/imagenet.GuidedReLU6)
    assert not any(isinstance(m, torch.nn.ReLU6) for m in opened.model.modules())
    guided = attribute(opened.model, x, int(opened.data.y_val[0]), "guided-backprop")
    plain = attribute(opened.model, x, int(opened.data.y_val[0]), "saliency")
    assert guided.shape == (1, 224, 224) and not torch.allclose(torch.as_tensor(guided), torch.as_tensor(plain))


def test_fine_tuning_trains_the_last_blocks_only_with_batchnorm_frozen():
    model = TransferNet(2, mode="finetune", tuned_blocks=2, crops=True, jitter=True)
    trainable = {name.split(".")[1] + ("." + name.split(".")[2] if name.startswith("backbone._blocks") else "")
                 for name, p in model.named_parameters() if p.requires_grad and name.startswith("backbone")}
    assert trainable == {"_blocks.14", "_blocks.15", "_conv_head", "_bn1"}
    model.train()
    assert not model.backbone.training and model.head.training
    frozen_before = model.backbone._blocks[13].state_dict()["_project_conv.weight"].clone()
    tuned_before = model.backbone._blocks[15].state_dict()["_project_conv.weight"].clone()
    bn_before = model.backbone._bn1.running_mean.clone()
    optimiser = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    x = torch.rand(2, 3, 64, 64)  # resized to 224 inside
    torch.nn.functional.cross_entropy(model(x), torch.tensor([0, 1])).backward()
    optimiser.step()
    assert torch.equal(model.backbone._blocks[13]._project_conv.weight, frozen_before)
    assert not torch.equal(model.backbone._blocks[15]._project_conv.weight, tuned_before)
    assert torch.equal(model.backbone._bn1.running_mean, bn_before)


def test_the_augmentations_are_seeded_and_keep_images_in_range():
    x = torch.rand(8, 3, 32, 32)
    a = augment.augment(x, True, True, True, torch.Generator().manual_seed(1))
    b = augment.augment(x, True, True, True, torch.Generator().manual_seed(1))
    assert torch.equal(a, b) and a.shape == x.shape and 0 <= float(a.min()) and float(a.max()) <= 1
    flipped = augment.flip(x, torch.Generator().manual_seed(0))
    chosen = torch.rand(8, generator=torch.Generator().manual_seed(0)) < 0.5
    assert torch.equal(flipped[chosen], x[chosen].flip(-1)) and torch.equal(flipped[~chosen], x[~chosen])


@pytest.mark.slow  # two `python -m engine` processes
def test_the_cli_trains_on_a_folder_and_refuses_a_single_class(tmp_path):
    """`python -m engine train --model transfer --images DIR` in a subprocess, as a person runs it."""
    from tests.test_cli import cli

    with zipfile.ZipFile(io.BytesIO(image_zip(4))) as archive:
        archive.extractall(tmp_path / "set")
    result = cli("train", "--model", "transfer", "--images", str(tmp_path / "set"), "--epochs", "1",
                 "--batch-size", "4", "--set", "aug_copies=0", data=tmp_path / "data")
    line = json.loads(result.stdout.strip().splitlines()[-1])
    assert line["status"] == "completed" and line["dataset"].startswith("images-")
    assert (f"{tmp_path / 'set'}: 8 images in 2 classes (discs 4, stripes 4), 0 file(s) skipped, saved as dataset "
            f"{line['dataset']}\n") in result.stderr
    bad = cli("train", "--model", "transfer", "--images", str(tmp_path / "set" / "discs"), data=tmp_path / "data",
              check=False)
    assert bad.returncode == 2
    assert bad.stderr.startswith(f"error: {tmp_path / 'set' / 'discs'}: discs holds no readable images in class folders")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("mode", ["frozen", "finetune"])
def test_cuda_transfer_trains_on_the_gpu(tmp_path, mode):
    """Features computed on the GPU (frozen), or the last blocks trained there with augmentation (finetune)."""
    name = saved_images.save_images(read_archive(image_zip(10), "set.zip"), tmp_path)
    values = {"batch_size": 8, "epochs": 3, "lr": 0.003, "mode": mode, "crop": True, "jitter": True}
    job = TrainingJob(validate("transfer", name, values), RunStore(tmp_path / "runs"), device="cuda", data_dir=tmp_path)
    job.run()
    assert job.progress.status == "completed", job.progress.message
    assert job.progress.final["val_acc"] >= 0.75
