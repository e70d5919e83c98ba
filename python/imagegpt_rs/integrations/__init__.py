"""Integrations with the tools users outgrow one process with: Hugging Face datasets and Dask.

Each submodule imports its library lazily, inside functions.
"""
