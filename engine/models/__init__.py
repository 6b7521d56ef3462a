"""Built-in models. Importing a module registers its ModelSpec(s) with engine.core.registry, in this
order: the order pages offer them in (the first of each capability is a page's default)."""
from engine.models import cnn, mlp, resnet  # noqa: F401
from engine.models import vae, gan  # noqa: F401  (generators: the Latent space page)
from engine.models import recurrent, transformer, seq2seq  # noqa: F401  (hidden states, attention maps: the Attention page)
