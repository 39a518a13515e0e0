"""Executes a notebook with nbclient and saves the result (used by tests/jupyter/nbclient.test.ts).

usage: run_notebook.py IN.ipynb OUT.ipynb [--allow-errors]
Exit code 3 with the error text when a cell fails and errors are not allowed.
"""
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError


def main() -> int:
    source, target = sys.argv[1], sys.argv[2]
    allow_errors = "--allow-errors" in sys.argv[3:]
    nb = nbformat.read(source, as_version=4)
    client = NotebookClient(
        nb,
        kernel_name="medicosam",
        timeout=60,
        startup_timeout=60,
        allow_errors=allow_errors,
        store_widget_state=True,
        resources={"metadata": {"path": str(Path(source).parent)}},
    )
    try:
        client.execute()
    except CellExecutionError as err:
        print(f"CellExecutionError: {err}", file=sys.stderr)
        return 3
    nbformat.write(nb, target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
