"""Shared test setup. Qt widgets render offscreen (no display needed)."""
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
