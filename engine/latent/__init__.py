"""Latent spaces of the generative models, and the hand-stepped GAN session."""
