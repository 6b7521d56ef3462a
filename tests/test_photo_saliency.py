"""Saliency on photos with the pretrained ImageNet CNN (EfficientNet-Lite0): guided backprop through
ReLU6 checked by hand, the gallery's labelled photos, class search, the out-of-memory back-off, the CLI."""
import json

import numpy as np
import pytest
import torch
from captum.attr import GuidedBackprop
from torch import nn

from engine.data.photos import gallery, labelled_photos, read_photo, upsample_map
from engine.saliency.chunking import with_backoff
from engine.models.imagenet import GuidedReLU6, swap_relu6
from engine.saliency.imagenet import DEFAULT_LAYER, find_class, load_photo_classifier
from engine.saliency.maps import attribute, conv_layers, probabilities


class Tiny(nn.Module):
    """y = w2 . ReLU6(W1 x): small enough to compute guided backprop by hand."""

    def __init__(self, activation: nn.Module):
        super().__init__()
        self.first, self.act, self.second = nn.Linear(4, 4, bias=False), activation, nn.Linear(4, 2, bias=False)
        with torch.no_grad():
            self.first.weight.copy_(torch.eye(4))  # so the hidden pre-activations are the input itself
            self.second.weight.copy_(torch.tensor([[1.0, -2.0, 3.0, -4.0], [0.5, 0.5, 0.5, 0.5]]))

    def forward(self, x):
        return self.second(self.act(self.first(x)))


def test_guided_relu6_is_relu6_forward_and_guided_relu6_under_captum():
    x = torch.tensor([[-1.0, 2.0, 7.0, 3.0]])  # below 0, inside (0, 6), above 6 (saturated), inside
    guided = Tiny(GuidedReLU6())
    torch.testing.assert_close(guided(x), Tiny(nn.ReLU6())(x), rtol=0, atol=0)
    # By hand: guided ReLU6 passes the upstream gradient w2 only where 0 < x < 6 and only where it is positive.
    # Target 0 (w2 = 1, -2, 3, -4): unit 0 is off, 1 and 3 have negative weights, 2 is saturated (its 3 must
    # not pass): nothing passes. Target 1 (w2 = 0.5 each): units 1 and 3, inside (0, 6), pass 0.5.
    by_hand_0 = torch.zeros(1, 4)
    by_hand_1 = torch.tensor([[0.0, 0.5, 0.0, 0.5]])
    torch.testing.assert_close(GuidedBackprop(guided).attribute(x.clone(), target=0), by_hand_0, rtol=0, atol=0)
    torch.testing.assert_close(GuidedBackprop(guided).attribute(x.clone(), target=1), by_hand_1, rtol=0, atol=0)
    # The plain gradient is ReLU6's: (0 < x < 6) x w2, negative parts included.
    plain = x.clone().requires_grad_(True)
    guided(plain)[0, 0].backward()
    torch.testing.assert_close(plain.grad, torch.tensor([[0.0, -2.0, 0.0, -4.0]]), rtol=0, atol=0)


def test_relu_minus_relu_would_leak_gradient_through_saturated_units():
    """Why not ReLU(x) - ReLU(x - 6): on a saturated unit its second ReLU passes the negated gradient."""
    class Difference(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.ReLU(), nn.ReLU()

        def forward(self, x):
            return self.a(x) - self.b(x - 6)

    x = torch.tensor([[-1.0, 2.0, 7.0, 3.0]])
    leaked = GuidedBackprop(Tiny(Difference())).attribute(x.clone(), target=0)
    assert leaked[0, 2].item() == 3.0  # the saturated unit 2's weight passes; guided ReLU6 gives 0 there


def test_every_relu6_of_the_pretrained_model_is_swapped_and_the_logits_stay():
    model = load_photo_classifier()
    assert not any(isinstance(m, nn.ReLU6) for m in model.modules())
    assert sum(isinstance(m, GuidedReLU6) for m in model.modules()) == 17
    assert list(conv_layers(model)) == [f"stage {i}" for i in range(1, 8)] + ["head"] and DEFAULT_LAYER == "head"
    assert swap_relu6(nn.Sequential(nn.ReLU6()))[0].__class__ is GuidedReLU6


def test_top1_on_labelled_photos_and_the_gallery():
    names = [p.name for p in gallery()]
    assert {"china (a temple)", "flower", "grace hopper", "chelsea (a cat)"} <= set(names)
    assert len(labelled_photos()) == 20
    model = load_photo_classifier()
    picked = [labelled_photos()[i] for i in (4, 9, 16)]  # strawberry, bottlecap, dalmatian: all right
    batch = torch.cat([read_photo(p.path).x for p in picked])
    assert batch.shape == (3, 3, 224, 224)
    assert probabilities(model, batch).argmax(1).tolist() == [p.label for p in picked]


def test_gradcam_of_a_cat_photo_at_224_and_upsampled():
    model = load_photo_classifier()
    photo = read_photo(next(p.path for p in gallery() if p.name == "chelsea (a cat)"))
    assert photo.square.shape == (300, 300, 3) and photo.notes == ["the centred 300 x 300 square of the 451 x 300 photo is used"]
    cam = attribute(model, photo.x, find_class("tabby cat"), "gradcam", layer=DEFAULT_LAYER)[0]
    assert cam.shape == (224, 224) and cam.min() >= 0 and cam.max() > 0
    big = upsample_map(cam.numpy(), 300)
    assert big.shape == (300, 300) and abs(float(big.max()) - float(cam.max())) < 0.05 * float(cam.max())


@pytest.mark.parametrize("query, label", [("tabby cat", 281), ("Tabby", 281), ("  tiger   CAT ", 282),
                                          ("281", 281), ("espresso", 967), ("Persian", 283)])
def test_classes_found_by_any_synonym(query, label):
    assert find_class(query) == label


@pytest.mark.parametrize("query, message", [("cat", "'cat' matches 7 ImageNet classes: 281: tabby, tabby cat"),
                                            ("zebrafish", "no ImageNet class is called 'zebrafish'"),
                                            ("1000", "labels run from 0 to 999"), ("", "name an ImageNet class")])
def test_class_names_that_match_nothing_or_several_say_so(query, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        find_class(query)


class RunsOutOfMemory(nn.Module):
    """A model that fails like a full GPU whenever a batch has more than `fits` images."""

    def __init__(self, fits: int, error):
        super().__init__()
        self.fits, self.error, self.batches = fits, error, []
        self.linear = nn.Linear(3 * 8 * 8, 2)

    def forward(self, x):
        self.batches.append(len(x))
        if len(x) > self.fits:
            raise self.error
        return self.linear(x.flatten(1))


@pytest.mark.parametrize("error", [torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2 GiB"),
                                   RuntimeError("MPS backend out of memory")])
def test_integrated_gradients_and_occlusion_halve_their_chunk_on_out_of_memory(error):
    x = torch.rand(1, 3, 8, 8)
    model = RunsOutOfMemory(fits=5, error=error)
    progress = []
    ig = attribute(model, x, 0, "integrated-gradients", steps=16, chunk=16, progress=progress.append)
    assert model.batches[:3] == [16, 8, 4] and set(model.batches[3:]) == {4}  # 16, 8 fail; 4 fits
    assert ig.shape == (1, 8, 8) and progress[-1] == 1.0 and progress == sorted(progress)
    # The same maps as one pass on a model that never runs out.
    model.fits = 10**6
    torch.testing.assert_close(ig, attribute(model, x, 0, "integrated-gradients", steps=16), rtol=1e-4, atol=1e-6)
    model.fits, model.batches = 3, []
    occ = attribute(model, x, 0, "occlusion", window=4, stride=4, chunk=8)
    # 4 patches: the intact input, then all 4 at once (chunk 8, then 4: too many), then 2 and 2 (chunk 2).
    assert model.batches == [1, 4, 1, 4, 1, 2, 2] and occ.shape == (1, 8, 8)


def test_other_errors_are_not_retried():
    calls = []

    def failing(chunk):
        calls.append(chunk)
        raise RuntimeError("shape mismatch")

    with pytest.raises(RuntimeError, match="shape mismatch"):
        with_backoff(failing, 32)
    assert calls == [32]
    with pytest.raises(torch.OutOfMemoryError):  # a chunk of one that does not fit: nothing left to halve
        with_backoff(lambda chunk: (_ for _ in ()).throw(torch.OutOfMemoryError("out of memory")), 4)


def test_cli_explains_a_photo_for_a_named_class(tmp_path, capsys):
    from engine.__main__ import main
    photo = next(p.path for p in gallery() if p.name == "chelsea (a cat)")
    out = tmp_path / "cat.png"
    assert main(["saliency", "--run", "imagenet", "--image", str(photo), "--method", "gradcam",
                 "--target", "tabby cat", "--out", str(out)]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["target"] == 281 and info["target_name"] == "tabby" and info["predicted_name"] == "Egyptian cat"
    assert np.load(tmp_path / "cat.npy").shape == (224, 224)
    from PIL import Image
    assert Image.open(out).size == (4 * 300 + 3 * 4, 300)  # the paper's row at the photo's square, 300 px


@pytest.mark.parametrize("args, message", [
    (["--image", "PHOTO", "--target", "cat"], "'cat' matches 7 ImageNet classes"),
    (["--image", "NOTANIMAGE"], "is not an image Pillow can read"),
    (["--image", "MISSING"], "cannot read missing.jpg"),
    ([], "--run imagenet needs --image"),
])
def test_cli_bad_class_or_image_exits_2(tmp_path, capsys, args, message):
    from engine.__main__ import main
    (tmp_path / "notanimage.jpg").write_text("hello")
    paths = {"PHOTO": str(next(p.path for p in gallery() if p.name == "chelsea (a cat)")),
             "NOTANIMAGE": str(tmp_path / "notanimage.jpg"), "MISSING": str(tmp_path / "missing.jpg")}
    args = [paths.get(a, a) for a in args]
    assert main(["saliency", "--run", "imagenet", "--method", "gradcam", *args, "--out", str(tmp_path / "x.png")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_maps_match_the_cpu():
    photo = read_photo(next(p.path for p in gallery() if p.name == "chelsea (a cat)"))
    for method, options in (("gradcam", {}), ("guided-backprop", {}), ("integrated-gradients", {"steps": 8, "chunk": 4})):
        on_cpu = attribute(load_photo_classifier("cpu"), photo.x, 281, method, **options)
        on_gpu = attribute(load_photo_classifier("cuda"), photo.x, 281, method, **options)
        assert on_gpu.device.type == "cpu"  # maps come back to the CPU
        torch.testing.assert_close(on_gpu, on_cpu, rtol=1e-3, atol=1e-3 * float(on_cpu.abs().max()))


def test_randomisation_groups_cover_every_weight_once():
    """The cascading randomisation goes a group at a time: together the groups hold every layer with
    weights, none twice, in forward order (stem first, classifier last)."""
    model = load_photo_classifier()
    groups = model.randomisation_layers()
    assert [name for name, _ in groups] == ["stem"] + [f"stage {i}" for i in range(1, 8)] + ["head", "classifier"]
    grouped = [id(p) for _, group in groups for p in group.parameters()]
    assert len(grouped) == len(set(grouped)) and set(grouped) == {id(p) for p in model.parameters()}


def test_an_uploaded_photo_is_checked_and_cropped_to_its_centre_square():
    import io
    from PIL import Image
    buffer = io.BytesIO()
    Image.new("RGB", (90, 60), (200, 30, 30)).save(buffer, "PNG")
    photo = read_photo(buffer.getvalue(), "red.png")
    assert photo.square.shape == (60, 60, 3) and photo.x.shape == (1, 3, 224, 224)
    assert photo.notes == ["the centred 60 x 60 square of the 90 x 60 photo is used"]
    torch.testing.assert_close(photo.x[0, :, 0, 0], (torch.tensor([200.0, 30.0, 30.0]) - 127) / 128)
    with pytest.raises(ValueError, match="notes.txt is not an image Pillow can read"):
        read_photo(b"not a picture", "notes.txt")
