"""`python -m bench [--quick]`: every table, printed and written to output/bench/."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

# one BLAS thread: with 2 cores, NumPy/PyTorch/JAX thread pools fight when compared side by side
for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "XLA_FLAGS"):
    os.environ.setdefault(variable, "1" if variable != "XLA_FLAGS" else
                          "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")

from bench import check_cost, derivation_scaling, end_to_end, generated_code  # noqa: E402
from bench import normalization_timing  # noqa: E402  (issue 13: the normalisation layers' row)
from bench import attention_timing  # noqa: E402  (issue 17: the attention block's row)
from bench import convolution_timing  # noqa: E402  (issue 15: convolution and pooling)
from bench import recurrence_timing  # noqa: E402  (issue 16: the recurrent layers' rows)
from bench import verify_scale  # noqa: E402  (issue 14: backprop verify at cs231n's and 200k-parameter sizes)
from derive.progress import progress  # noqa: E402

SECTIONS = {"derivation": derivation_scaling, "generated-code": generated_code, "check-cost": check_cost,
            "end-to-end": end_to_end, "normalization": normalization_timing,
            "convolution": convolution_timing, "recurrence": recurrence_timing, "attention": attention_timing,
            "verify-scale": verify_scale}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes only (under a minute)")
    parser.add_argument("--only", choices=sorted(SECTIONS), action="append", help="run only these tables")
    parser.add_argument("--out", default="output/bench", help="folder for the Markdown tables")
    args = parser.parse_args(argv)
    folder = Path(args.out)
    folder.mkdir(parents=True, exist_ok=True)
    chosen = args.only or list(SECTIONS)
    # a table takes seconds to minutes: the bar (stderr, at a terminal only) says which one is running
    for name in progress(chosen, "bench tables"):
        table = SECTIONS[name].run(args.quick)
        print(table + "\n", flush=True)
        path = folder / f"{name}{'-quick' if args.quick else ''}.md"
        temporary = path.with_suffix(".md.tmp")
        temporary.write_text(table + "\n")
        temporary.replace(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
