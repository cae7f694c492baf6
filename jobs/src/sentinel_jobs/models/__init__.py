"""Sentinel's reference models: ordinary users of sentinel_sdk, with no private path."""
