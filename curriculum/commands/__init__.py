"""Hydra-facing commands. Only these read a DictConfig; they unpack it into plain settings."""
