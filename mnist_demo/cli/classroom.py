"""``mnist-demo class``: create a class, export its pool and runs, delete it and everything in it.

The same store the app uses (``MNIST_DEMO_DATABASE_URL``, else ``classes.db`` in
``MNIST_DEMO_CLASS_DIR``), or ``--database URL``. Refusals (an unknown code, a wrong key, a cap)
are one line and exit code 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from mnist_demo.classroom.export import pool_zip, run_files
from mnist_demo.classroom.store import ClassError, ClassStore, NoSuchClass, WrongKey
from mnist_demo.settings import SERVER_NAME, SERVER_PORT


def add_parser(commands) -> None:
    parser = commands.add_parser("class", help="create, export or delete a class")
    actions = parser.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="a new class: its code, teacher key and links")
    create.add_argument("--title", default="", help="the class's name, shown on its board")
    create.add_argument(
        "--url", help="the app's address for the links (default: this host's, from the settings)"
    )
    create.add_argument("--json", action="store_true", help="print one JSON object")
    delete = actions.add_parser("delete", help="delete a class, its drawings and its runs")
    export = actions.add_parser(
        "export", help="the class pool as an ImageFolder zip + CSV (and, with --runs, its runs)"
    )
    export.add_argument("--out", type=Path, required=True, help="the zip file to write")
    export.add_argument(
        "--runs", type=Path, help="also write each run's .pth, .safetensors and model card here"
    )
    for action in (delete, export):
        action.add_argument("code", help="the class's code (the ?class= part of its join link)")
        action.add_argument("--key", required=True, help="the class's teacher key")
    for action in (create, delete, export):
        action.add_argument(
            "--database", help="a SQLAlchemy URL (default: the app's, from the settings)"
        )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    store = ClassStore(args.database)
    try:
        return {"create": create, "delete": delete, "export": export}[args.action](store, args)
    except ClassError as error:
        print(f"mnist-demo class {args.action}: error: {error}", file=sys.stderr)
        return 2
    finally:
        store.close()


def links(base: str, code: str, key: str) -> dict:
    """The join link, and the teacher's: the key after ``#``, which browsers never send."""
    base = base if base.endswith("/") else base + "/"
    return {"join_url": f"{base}?class={code}", "board_url": f"{base}?class={code}#key={key}"}


def create(store: ClassStore, args: argparse.Namespace) -> int:
    keys = store.create_class(args.title)
    base = args.url or f"http://{SERVER_NAME.read()}:{SERVER_PORT.read()}/"
    result = {"code": keys.code, "teacher_key": keys.teacher_key}
    result.update(links(base, keys.code, keys.teacher_key))
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"class code:  {keys.code}")
    print(f"teacher key: {keys.teacher_key}  (shown once: keep it; it opens the board)")
    print(f"join link:   {result['join_url']}")
    print(f"board link:  {result['board_url']}")
    return 0


def opened(store: ClassStore, code: str, key: str) -> None:
    """The teacher key must open the class: NoSuchClass or WrongKey otherwise."""
    if not store.check_teacher(code, key):
        raise WrongKey() if store.has_class(code) else NoSuchClass()


def delete(store: ClassStore, args: argparse.Namespace) -> int:
    opened(store, args.code, args.key)
    counts, runs = store.counts(args.code), len(store.runs(args.code))
    store.delete_class(args.code, args.key)
    print(f"deleted class {args.code}: {counts['total']} drawings and {runs} runs")
    return 0


def export(store: ClassStore, args: argparse.Namespace) -> int:
    opened(store, args.code, args.key)
    data = pool_zip(store, args.code)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(data)
    total = store.counts(args.code)["total"]
    print(f"saved {args.out}: {total} drawings ({len(data) / 1024:.0f} KB)")
    if args.runs:
        for record in store.runs(args.code):
            written = run_files(store, record.id, args.runs)
            print(f"saved run {record.id}: " + ", ".join(path.name for path in written))
    return 0
