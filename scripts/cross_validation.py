"""cleanlab's verdicts from K-fold cross-validation through curriculum's engine (curriculum.study.cross_validation):

    .venv/bin/python scripts/cross_validation.py OUT.npz [score overrides, e.g. data.label_noise=0.2]"""

import sys

from curriculum.study.cross_validation import main

if __name__ == "__main__":
    main(sys.argv[1:])
