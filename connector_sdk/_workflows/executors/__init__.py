"""Executors: what runs a checked workflow's steps. ``local`` runs them in this process."""
