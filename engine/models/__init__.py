"""Built-in models. Importing a module registers its ModelSpec(s) with engine.core.registry."""
from engine.models import cnn, mlp, resnet  # noqa: F401
from engine.models import gan, vae  # noqa: F401  (generative: the Latent space page)
from engine.models import recurrent, seq2seq, transformer  # noqa: F401  (sequence: the Attention page)
