"""Built-in models. Importing a module registers its ModelSpec(s) with engine.registry."""
from engine.models import cnn, mlp, recurrent, resnet, seq2seq, transformer  # noqa: F401
