"""How each model family learns: an Objective returns losses; the Trainer steps the optimisers."""
