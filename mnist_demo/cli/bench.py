"""``mnist-demo bench TARGET``: benchmarks measured side by side in one run.

``api``, ``browser`` and ``class`` start the real app, so they import Gradio (through
mnist_demo.ui) in ``run`` only: every other command starts without it.
"""

from __future__ import annotations

import argparse

from mnist_demo.bench.numbers import bench_numbers
from mnist_demo.bench.predict import bench_predict
from mnist_demo.bench.train import bench_train
from mnist_demo.cli.common import add_data_options, add_device_option, print_report


def add_parser(commands) -> None:
    parser = commands.add_parser("bench", help="benchmarks measured side by side in one run")
    targets = parser.add_subparsers(dest="target", required=True)
    train = targets.add_parser(
        "train", help="our engine vs the lesson's DataLoader; the lesson's run and --preset fast"
    )
    train.add_argument("--threads", type=int, help="torch CPU threads for both (default: all)")
    train.add_argument(
        "--no-recipes",
        action="store_true",
        help="only the one-epoch comparison, not the whole lesson and fast runs to 99%%",
    )
    add_device_option(train)
    add_data_options(train)
    train.set_defaults(run=run_train)
    predict = targets.add_parser("predict", help="predict() latency on 280px and 800px canvases")
    predict.add_argument("--repeats", type=int, default=300, help="timed calls per size")
    predict.add_argument(
        "--while-training",
        action="store_true",
        help="time the same calls again while a training run uses all cores but one (needs MNIST)",
    )
    add_data_options(predict)
    predict.set_defaults(run=run_predict)
    api = targets.add_parser("api", help="/predict through gradio_client vs a trivial function")
    api.add_argument("--repeats", type=int, default=100, help="timed calls per endpoint")
    api.set_defaults(run=run_api)
    browser = targets.add_parser(
        "browser", help="Chromium drawing: the in-page pad vs the old Sketchpad, side by side"
    )
    browser.add_argument("--repeats", type=int, default=2, help="times each of the ten digits")
    browser.add_argument(
        "--digits", default="0123456789", help="which template digits to draw (default: all ten)"
    )
    browser.add_argument("--chromium", help="the Chromium executable (default: chromium)")
    browser.set_defaults(run=run_browser)
    numbers = targets.add_parser(
        "numbers", help="whole numbers of 2-6 MNIST digits read digit by digit: clear and touching"
    )
    numbers.add_argument("--count", type=int, default=500, help="numbers in each set")
    numbers.add_argument("--seed", type=int, default=0, help="which numbers are composed")
    numbers.add_argument(
        "--train-digits",
        action="store_true",
        help="compose the numbers of training digits (for tuning), not test digits",
    )
    add_data_options(numbers)
    numbers.set_defaults(run=run_numbers)
    classroom = targets.add_parser(
        "class",
        help="a class at work on a real server: students submitting, the board open, a run "
        "training; on SQLite, then a throwaway PostgreSQL",
    )
    classroom.add_argument("--students", type=int, default=30, help="simulated students")
    classroom.add_argument("--drawings", type=int, default=20, help="drawings each submits")
    classroom.add_argument(
        "--databases",
        default="sqlite,postgresql",
        help="which databases, comma-separated (PostgreSQL is skipped where not installed)",
    )
    classroom.add_argument(
        "--pause",
        type=float,
        default=0.0,
        help="seconds each student takes to draw before each submission (default: none, a burst)",
    )
    classroom.set_defaults(run=run_class)
    for target in (train, predict, api, browser, numbers, classroom):
        target.add_argument("--json", action="store_true", help="print one JSON object")


def run_train(args: argparse.Namespace) -> int:
    result = bench_train(
        args.data_dir, threads=args.threads, device=args.device, recipes=not args.no_recipes
    )
    return print_report(result, args.json)


def run_predict(args: argparse.Namespace) -> int:
    result = bench_predict(
        repeats=args.repeats, while_training=args.while_training, root=args.data_dir
    )
    return print_report(result, args.json)


def run_numbers(args: argparse.Namespace) -> int:
    result = bench_numbers(args.count, args.seed, train=args.train_digits, root=args.data_dir)
    return print_report(result, args.json)


def run_api(args: argparse.Namespace) -> int:
    from mnist_demo.bench.api import bench_api

    return print_report(bench_api(repeats=args.repeats), args.json)


def run_browser(args: argparse.Namespace) -> int:
    from mnist_demo.bench.browser import bench_browser

    return print_report(bench_browser(args.repeats, args.chromium, args.digits), args.json)


def run_class(args: argparse.Namespace) -> int:
    from mnist_demo.bench.classroom import bench_class

    databases = tuple(name.strip() for name in args.databases.split(",") if name.strip())
    result = bench_class(args.students, args.drawings, databases, args.pause)
    return print_report(result, args.json)
