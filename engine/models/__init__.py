"""The models. Importing a module registers its ModelSpec(s) with engine.core.registry.

The built-in ones register first, in the order pages offer them (the first of each capability is
a page's default); then every other module in this folder, by name: a new model is one file here
that calls `register(ModelSpec(...))`, and every page and CLI verb that can use it offers it.
"""
import importlib
import pkgutil

from engine.models import cnn, mlp, playground, resnet  # noqa: F401  (playground: TF Playground's network)
from engine.models import vae, gan, wgan  # noqa: F401  (generators: the Latent space page)
from engine.models import recurrent, transformer, seq2seq  # noqa: F401  (hidden states, attention maps: the Attention page)
from engine.models import gan2d  # noqa: F401  (the GAN on 2D points: the Latent space page's GAN Lab view)

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
