"""Run the app: ``python app.py`` (add ``--share`` for a public link for a classroom)."""

import argparse
import sys

from mnist_demo.recognition.checkpoint import CheckpointError
from mnist_demo.recognition.inference import shipped_predictor
from mnist_demo.ui import build_demo, launch_options

try:
    # The page's first payload is the shipped model, so building the app reads the weights: a
    # broken file stops here, named, rather than serving an error to every visitor.
    shipped_predictor("mnist")
except CheckpointError as error:
    sys.exit(f"app.py: cannot start: {error}")
demo = build_demo()

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--share", action="store_true", help="also serve on a public gradio.live link"
    )
    args = parser.parse_args()
    # Quiet: Gradio's banner would tell the user to edit launch() for a public link.
    demo.launch(share=args.share, quiet=True, prevent_thread_lock=True, **launch_options())
    public = f" and {demo.share_url}" if demo.share_url else " (--share adds a public link)"
    print(f"* mnist-demo running on {demo.local_url}{public}", flush=True)
    demo.block_thread()
