"""Stage 2, the scores: the ensemble's members and their identity, training them while recording their learning
dynamics (member files), and the pure score math that turns dynamics into per-example scores."""
