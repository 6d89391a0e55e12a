"""curriculum: rank training examples by how early and how consistently an ensemble learns them,
then train easy-to-hard against compute-matched controls."""

__version__ = "0.1.0"
