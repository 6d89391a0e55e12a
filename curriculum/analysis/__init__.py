"""Stage 4, reading results: agreement between members, stability of the learning order, noise detection,
comparison tables over seeds, statistics and plots."""
