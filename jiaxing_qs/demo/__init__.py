"""Synthetic demo data for Jiaxing (labelled is_demo): see seed.seed_demo."""

from .seed import SeedReport, demo_data_delete, seed_demo, summary_lines

__all__ = ["SeedReport", "demo_data_delete", "seed_demo", "summary_lines"]
