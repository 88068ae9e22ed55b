"""The Gradio user interface: the only package that imports gradio."""

from mnist_demo.ui.app import build_demo
from mnist_demo.ui.launch import launch_options

__all__ = ["build_demo", "launch_options"]
