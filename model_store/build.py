"""Build .mar archives into the model store (same as `voxflow models build`).

python model_store/build.py                       # joe, from the installed wheel
python model_store/build.py joe --version 2.0     # a second version for rollback drills
python model_store/build.py mms --model-dir DIR   # a registered HF voice from its folder
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from voxflow.registry import load_registry
from voxflow.serving.archives import build_archive
from voxflow.settings import get_settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("voice", nargs="?", default="joe")
    parser.add_argument("--model-dir", type=Path)
    parser.add_argument("--version")
    parser.add_argument("--device", choices=["cpu", "gpu"])
    parser.add_argument("--store", type=Path, help="default: VOXFLOW_MODEL_STORE_DIR")
    parser.add_argument("--force", action="store_true")
    args = parser.parse_args()
    settings = get_settings()
    voice = load_registry(settings).get(args.voice)
    if args.version:
        voice = dataclasses.replace(voice, version=args.version)
    store = args.store or Path(settings.model_store_dir)
    path = build_archive(
        voice, store, model_dir=args.model_dir, device=args.device, force=args.force
    )
    print(path)


if __name__ == "__main__":
    main()
