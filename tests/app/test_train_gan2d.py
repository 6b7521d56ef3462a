"""The Training page on a 2D GAN run (gan2d): its live picture is GAN Lab's plane (D's field, real and
fake points, the manifold), drawn where a classifier's boundary is, never the classifier's views."""
from pathlib import Path

from engine.core.registry import validate
from engine.core.runs import RunStore
from engine.core.trainer import TrainingJob
from tests.app.helpers import open_page

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "train.py")


def test_a_gan2d_run_on_the_ring_shows_the_gan_plane_and_no_boundary(fresh_data_dir):
    """Input: gan2d on the ring (2,000 points), 1 epoch, trained in this process; page at ?run=ID."""
    store = RunStore(fresh_data_dir / "runs")
    job = TrainingJob(validate("gan2d", "ring", {"epochs": 1}, {"n_samples": 2000}), store, device="cpu")
    assert job.run() == "completed"
    at = open_page(PAGE, run=str(job.run_id))  # fails on any exception
    assert any(f"**Run {job.run_id}**: gan2d on ring" in m.value for m in at.markdown)
    canvases = [c.proto.id for c in at.get("bidi_component")]  # the plane canvas (pages/_ui/plane.py)
    assert any(c.endswith("-gan2d_plane") for c in canvases), canvases
    assert not any("Decision boundary" in m.value for m in at.markdown)
    # the page's Run tab (which holds the run's own tabs), then its Sweep tab
    assert [t.label for t in at.tabs] == ["Run", "Gradient norms", "Model", "Sweep"]
    assert not at.error, [e.value for e in at.error]
