"""Stage 3, the curriculum: orderings of the examples by a score, pacing functions, the paced sampler, pruning the
hardest share, and training the target network under them."""
