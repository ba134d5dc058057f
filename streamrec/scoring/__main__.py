"""``python -m streamrec.scoring``: run a scoring worker on stdin/stdout (scoring.worker)."""

from streamrec.scoring.worker import main

main()
