"""Run the app: ``python app.py`` (add ``--share`` for a public link for a classroom)."""

import argparse

from mnist_demo.ui import build_demo, launch_options

demo = build_demo()

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--share", action="store_true", help="also serve on a public gradio.live link"
    )
    args = parser.parse_args()
    demo.launch(share=args.share, **launch_options())
