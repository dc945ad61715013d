"""Buildroot-style firmware build: a board defconfig, package recipes and one module per step."""
