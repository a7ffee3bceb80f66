"""Executes one notebook headless with the toeplitz-lab kernel and reports what happened as one JSON line.

usage: python3 execute.py NOTEBOOK OUTPUT TIMEOUT_S

Cells run one by one (nbclient), so a failure names its cell. tslab reports a failing cell to Jupyter as a bare
`<Error>`; the real diagnostic (a type error, a stack) is in the cell's stderr, so that is returned too. The
executed notebook, outputs included, is written to OUTPUT (also when a cell fails).

The written file is meant for git: no per-cell timing metadata (nbclient's record_timing), execution counts
1, 2, 3, ... in cell order (tslab leaves them empty), and every JSON MIME part (plotly figures) on one line
instead of one number per line; the rest is laid out as nbformat writes it (sorted keys, indent 1, text split
into lines), so Jupyter reads it as usual.
"""
import copy
import json
import sys
import time

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
from nbformat.v4.rwbase import split_lines, strip_transient


def cell_text(cell, stream):
    return "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream" and o.get("name") == stream)


def error_text(cell):
    parts = []
    for o in cell.get("outputs", []):
        if o.get("output_type") == "error":
            parts.append(f"{o.get('ename', '')}: {o.get('evalue', '')}")
    return "\n".join(parts)


def is_json_mime(mime):
    return mime == "application/json" or mime.endswith("+json")


def notebook_text(nb):
    """The notebook as nbformat writes it, except that JSON MIME parts are compact, one line each."""
    nb = strip_transient(split_lines(copy.deepcopy(nb)))
    compact = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            for mime in sorted(data):
                if is_json_mime(mime) and isinstance(data[mime], (dict, list)):
                    compact.append(json.dumps(data[mime], separators=(",", ":"), sort_keys=True, ensure_ascii=False))
                    data[mime] = f"@@toeplitz-lab-compact-json-{len(compact) - 1}@@"
    text = json.dumps(nb, sort_keys=True, indent=1, ensure_ascii=False)
    for i, part in enumerate(compact):
        text = text.replace(json.dumps(f"@@toeplitz-lab-compact-json-{i}@@"), part, 1)
    return text + "\n"


def main(path, output, timeout):
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="toeplitz-lab", allow_errors=False, record_timing=False)
    report = {"ok": True, "cells": len(nb.cells), "seconds": []}
    count = 0
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
                count += 1
                cell.execution_count = count
                report["seconds"].append([index, round(time.time() - start, 2)])
    nbformat.validate(nb)
    with open(output, "w", encoding="utf-8") as f:
        f.write(notebook_text(nb))
    print(json.dumps(report))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
