"""Stance classification of news sentences on the withdrawal of foreign troops from Afghanistan."""
