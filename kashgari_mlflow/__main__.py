"""``python -m kashgari_mlflow``: see :mod:`kashgari_mlflow._cli`."""

import sys

from kashgari_mlflow._cli import main

sys.exit(main())
