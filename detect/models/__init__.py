"""Detector models."""
