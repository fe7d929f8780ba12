"""`python -m eval`: run the evaluation suite (see eval/run.py for the flags)."""
from eval.run import main

raise SystemExit(main())
