"""Stance classification of news sentences on the withdrawal of foreign troops from Afghanistan."""

__version__ = "0.1.0"
