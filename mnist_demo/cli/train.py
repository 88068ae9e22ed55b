"""``mnist-demo train``: its flags made from the options table, and the run with a progress bar."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from pathlib import Path

from tqdm import tqdm

from mnist_demo.cli.common import add_data_options, add_device_option, command_line
from mnist_demo.config import dataset_spec
from mnist_demo.data import load_image_folder, load_split
from mnist_demo.recognition.checkpoint import load_checkpoint, save_checkpoint
from mnist_demo.training.loop import EpochEvent, StepEvent, TrainConfig, TrainingRun
from mnist_demo.training.options import DEFAULTS, OPTIONS, PRESETS, Option


def add_parser(commands) -> None:
    parser = commands.add_parser("train", help="train a SmallCNN and save its weights")
    parser.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        help="named settings (flags win); "
        + "; ".join(f"{name}: {preset.values}" for name, preset in PRESETS.items()),
    )
    # Every option flag defaults to None, "not given", so that --preset can fill it and
    # TrainConfig holds the lesson's value for whatever neither names.
    for name, option in OPTIONS.items():
        if option.flag:
            add_option_flag(parser, name, option)
    parser.add_argument("--init-weights", type=Path, help="start from these weights (fine-tune)")
    parser.add_argument(
        "--extra-data",
        type=Path,
        help="also train on these drawings: folders 0-9 of 28x28 white-on-black images "
        "(an unzipped class pool export)",
    )
    parser.add_argument("--out", type=Path, help="save the weights here (+ a .json sidecar)")
    parser.add_argument("--plot", type=Path, help="save the loss/accuracy curves as a PNG")
    parser.add_argument("--dry-run", action="store_true", help="a few batches only, to smoke-test")
    add_device_option(parser)
    add_data_options(parser)
    parser.set_defaults(run=run)


def add_option_flag(parser: argparse.ArgumentParser, name: str, option: Option) -> None:
    if option.switch is not None:
        parser.add_argument(
            option.flag, dest=name, action="store_const", const=option.switch, help=option.help
        )
        return
    default = DEFAULTS[name]
    if option.words:
        words = list(option.words)
        shown = next(word for word, value in option.words.items() if value == default)
        parser.add_argument(
            option.flag, dest=name, choices=words, help=f"{option.help} (default: {shown})"
        )
        return
    shown = "" if default is None else f" (default: {default})"
    parser.add_argument(
        option.flag,
        dest=name,
        type=option.kind,
        choices=option.choices or None,
        help=option.help + shown,
    )


def train_config_from_args(args: argparse.Namespace) -> TrainConfig:
    """The preset's values, then every option flag given on the command line, then --device."""
    values = dict(PRESETS[args.preset].values) if args.preset else {}
    for name, option in OPTIONS.items():
        given = getattr(args, name, None) if option.flag else None
        if given is not None:
            values[name] = option.words[given] if option.words else given
    return TrainConfig(**values, device=args.device)


def run(args: argparse.Namespace) -> int:
    config = train_config_from_args(args)
    if args.dry_run:
        config.epochs, config.subset, config.test_subset = 1, 4 * config.batch_size, 1000
    # Fail on missing data before any progress bar appears.
    load_split(config.dataset, train=True, root=args.data_dir, download=not args.no_download)
    load_split(config.dataset, train=False, root=args.data_dir, download=not args.no_download)
    extra = load_image_folder(args.extra_data, config.dataset) if args.extra_data else None
    if extra is not None:
        print(f"adding {len(extra)} drawings from {args.extra_data} to the training set")
    run = TrainingRun(config, args.data_dir, extra_data=extra)
    if getattr(args, "init_weights", None):
        # Fine-tuning: start from saved weights (the architecture comes from their sidecar).
        run.model = load_checkpoint(args.init_weights).model
    epochs: list[EpochEvent] = []
    bar = None
    for event in run:
        if bar is None:
            bar = tqdm(total=event.total_steps, unit="step", dynamic_ncols=True)
        bar.update(event.step - bar.n)
        if isinstance(event, StepEvent):
            bar.set_postfix(epoch=event.epoch, loss=f"{event.train_loss:.4f}")
        else:
            epochs.append(event)
            bar.write(
                f"epoch {event.epoch}/{config.epochs}: train loss {event.train_loss:.4f}, "
                f"train acc {event.train_accuracy:.2%}, test loss {event.test_loss:.4f}, "
                f"test acc {event.test_accuracy:.2%} ({event.elapsed_seconds:.1f} s)"
            )
    if bar is not None:
        bar.close()
    final = epochs[-1]
    metrics = {
        "test_accuracy": final.test_accuracy,
        "test_loss": final.test_loss,
        "train_accuracy": final.train_accuracy,
        "train_loss": final.train_loss,
        "epochs": [asdict(event) for event in epochs],
        "seconds": final.elapsed_seconds,
        "extra_images": len(extra) if extra is not None else 0,
    }
    if args.out:
        path = save_checkpoint(
            args.out,
            run.model,
            config.dataset,
            metrics=metrics,
            command=command_line(args),
            train_config=asdict(config),
        )
        print(f"saved {path} and {path.with_suffix('.json')}")
    if args.plot:
        from mnist_demo.teaching.plots import save_training_plot

        save_training_plot(
            epochs, args.plot, title=f"SmallCNN on {dataset_spec(config.dataset).title}"
        )
        print(f"saved {args.plot}")
    return 0
