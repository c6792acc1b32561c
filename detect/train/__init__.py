"""Training and fitting of the project's own detectors and of the ensemble.

Run `python -m detect.train --help`.
"""
