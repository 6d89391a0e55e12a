"""Stage 1, the examples: datasets as in-memory uint8 tensors with stable official indices, stratified subsets and
splits, and seeded label noise. Knows no model, no score and no file format of the later stages."""
