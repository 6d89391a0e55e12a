"""The whole reproduction study on real Fashion-MNIST, resumable: each study plan of conf/studies/ in turn, through
`python -m curriculum study` (which skips finished runs), each rendering its section of docs/results.md:

    .venv/bin/python scripts/reproduce.py [seeds=5] [out=outputs/reproduce] [other study settings]

One study alone: python -m curriculum study study=label-noise seeds=5 (label-noise needs the `bench` extra)."""

import subprocess
import sys

STUDIES = ("curriculum", "label-noise", "pruning", "agreement")   # agreement last: it analyzes every score run


def main() -> None:
    for study in STUDIES:
        subprocess.run([sys.executable, "-m", "curriculum", "study", f"study={study}", *sys.argv[1:]], check=True)


if __name__ == "__main__":
    main()
