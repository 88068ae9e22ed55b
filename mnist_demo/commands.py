"""What the ``train`` and ``evaluate`` subcommands do, kept apart from argument parsing."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from tqdm import tqdm

from mnist_demo.checkpoint import load_checkpoint, save_checkpoint
from mnist_demo.config import dataset_spec, shipped_weights_path
from mnist_demo.data import load_split
from mnist_demo.device import resolve_device
from mnist_demo.evaluate import evaluate
from mnist_demo.recipes import RECIPES
from mnist_demo.train import EpochEvent, StepEvent, TrainConfig, TrainingRun

PRECISIONS = {"auto": None, "bf16": True, "fp32": False}


def recipe_from_args(args: argparse.Namespace) -> dict:
    """--preset's values, overridden by any of its four flags given on the command line."""
    recipe = dict(RECIPES[args.preset]) if args.preset else {}
    given = {
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "learning_rate": args.learning_rate,
        "schedule": args.schedule,
    }
    recipe.update({name: value for name, value in given.items() if value is not None})
    return recipe


def train_config_from_args(args: argparse.Namespace) -> TrainConfig:
    return TrainConfig(
        **recipe_from_args(args),
        dataset=args.dataset,
        optimizer=args.optimizer,
        momentum=args.momentum,
        batch_norm=args.batch_norm,
        step_size=args.step_size,
        gamma=args.gamma,
        subset=args.subset,
        augment=args.augment,
        outlier_exposure=args.outlier_exposure,
        coarse_scans=args.coarse_scans,
        seed=args.seed,
        threads=args.threads,
        bf16=PRECISIONS[args.precision],
        device=args.device,
        cuda_graph=False if args.no_cuda_graph else None,
    )


def train_command(args: argparse.Namespace, command_line: str) -> int:
    config = train_config_from_args(args)
    if args.dry_run:
        config.epochs, config.subset, config.test_subset = 1, 4 * config.batch_size, 1000
    # Fail on missing data before any progress bar appears.
    load_split(config.dataset, train=True, root=args.data_dir, download=not args.no_download)
    load_split(config.dataset, train=False, root=args.data_dir, download=not args.no_download)
    run = TrainingRun(config, args.data_dir)
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
    }
    if args.out:
        path = save_checkpoint(
            args.out,
            run.model,
            config.dataset,
            metrics=metrics,
            command=command_line,
            train_config=asdict(config),
        )
        print(f"saved {path} and {path.with_suffix('.json')}")
    if args.plot:
        from mnist_demo.plots import save_training_plot

        save_training_plot(
            epochs, args.plot, title=f"SmallCNN on {dataset_spec(config.dataset).title}"
        )
        print(f"saved {args.plot}")
    return 0


def evaluate_command(args: argparse.Namespace) -> int:
    weights = args.weights or shipped_weights_path(args.dataset or "mnist")
    checkpoint = load_checkpoint(weights)
    dataset = dataset_spec(args.dataset).name if args.dataset else checkpoint.dataset
    if dataset != checkpoint.dataset:
        raise ValueError(f"{weights} was trained on {checkpoint.dataset}, not {dataset}")
    split = load_split(dataset, train=False, root=args.data_dir, download=not args.no_download)
    model = checkpoint.model.to(resolve_device(args.device))
    result = evaluate(model, split).as_dict(checkpoint.class_names)
    result["weights"] = str(weights)
    result["dataset"] = dataset
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"{weights} on the {dataset} test set ({result['n']} images)")
    print(f"accuracy {result['accuracy']:.2%}  loss {result['loss']:.4f}")
    for name, accuracy in result["per_class_accuracy"].items():
        print(f"  {name:>12}: {accuracy:.2%}")
    print("confusion matrix (rows: true class, columns: predicted):")
    for row in result["confusion_matrix"]:
        print("  " + " ".join(f"{count:5d}" for count in row))
    return 0
