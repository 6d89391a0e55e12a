"""Adapters of curriculum to other training frameworks, each behind its optional extra: lightning.py
(pip install 'curriculum[lightning]')."""
