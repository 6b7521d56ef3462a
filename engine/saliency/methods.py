"""The saliency methods by name, with their titles and how each map is shown: names only, no captum,
so that the CLI can offer them as choices without importing captum (every `python -m engine train`,
and each rank of a `--nproc` run, builds the whole parser)."""
from __future__ import annotations

METHODS = ("gradcam", "guided-backprop", "guided-gradcam", "saliency", "integrated-gradients", "occlusion")
TITLES = {"gradcam": "Grad-CAM", "guided-backprop": "Guided backprop", "guided-gradcam": "Guided Grad-CAM",
          "saliency": "Gradient saliency", "integrated-gradients": "Integrated gradients", "occlusion": "Occlusion"}
# How a map is best shown: Grad-CAM is non-negative by construction; for gradients the magnitude
# is what the papers plot; IG and occlusion are signed (evidence for and against the class).
DISPLAY = {"gradcam": "positive", "guided-backprop": "abs", "guided-gradcam": "abs", "saliency": "abs",
           "integrated-gradients": "signed", "occlusion": "signed"}
BASELINES = ("black", "blurred")
