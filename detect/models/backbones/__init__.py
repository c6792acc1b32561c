"""Backbone architectures laid out so that published checkpoints load key for key."""
