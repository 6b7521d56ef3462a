"""Word vectors: sources, training (word2vec), projections, neighbours, analogies, evaluation."""
