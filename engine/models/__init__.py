"""Built-in models. Importing a module registers its ModelSpec(s) with engine.registry."""
from engine.models import cnn, mlp, resnet, transformer  # noqa: F401
