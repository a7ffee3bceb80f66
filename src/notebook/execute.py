"""Executes one notebook headless with the toeplitz-lab kernel and reports what happened as one JSON line.

usage: python3 execute.py NOTEBOOK OUTPUT TIMEOUT_S

Cells run one by one (nbclient), so a failure names its cell. tslab reports a failing cell to Jupyter as a bare
`<Error>`; the real diagnostic (a type error, a stack) is in the cell's stderr, so that is returned too. The
executed notebook, outputs included, is written to OUTPUT (also when a cell fails).
"""
import json
import sys
import time

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError


def cell_text(cell, stream):
    return "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream" and o.get("name") == stream)


def error_text(cell):
    parts = []
    for o in cell.get("outputs", []):
        if o.get("output_type") == "error":
            parts.append(f"{o.get('ename', '')}: {o.get('evalue', '')}")
    return "\n".join(parts)


def main(path, output, timeout):
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="toeplitz-lab", allow_errors=False)
    report = {"ok": True, "cells": len(nb.cells), "seconds": []}
    # A kernel that dies (a crash in Node) ends the loop with DeadKernelError; its own stderr, with the crash,
    # went to this process's stderr, which the caller keeps.
    with client.setup_kernel():
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            start = time.time()
            try:
                client.execute_cell(cell, index)
            except (CellExecutionError, CellTimeoutError, DeadKernelError) as err:
                report.update(
                    ok=False,
                    failedCell=index,
                    source=cell.source,
                    stderr=cell_text(cell, "stderr"),
                    stdout=cell_text(cell, "stdout")[-2000:],
                    error=error_text(cell) or (str(err).strip().splitlines() or [type(err).__name__])[-1],
                )
                break
            finally:
                report["seconds"].append([index, round(time.time() - start, 2)])
    nbformat.write(nb, output)
    print(json.dumps(report))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
