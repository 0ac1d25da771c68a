"""``predict`` against ``evaluate`` on CinC 2017 records: records per second, same session.

``predict``: :func:`ecgzoo.apply.predict.predict_records` on a folder of ``--n`` CinC 2017
training records (WFDB, copied from the extracted database), model loaded and warmed up first,
so the figure is reading + preparing + the forward pass. Run for each ``--src NAME=PATH`` tree
(``PATH/src`` on ``PYTHONPATH``, a fresh process each, in turn for ``--repeats`` rounds) so a
commit can be compared with the one before it under the same load. ``evaluate``: the run's
prepared test split (``load_data``, cached arrays, no reading) through
:func:`ecgzoo.train.evaluate.predict_split` in the last tree, records per second.

    nice -n 10 flock /work/heavy.lock python benchmarks/predict_speed.py \\
        --src base=/tmp/base --src new=. --n 300 --repeats 2
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

INNER = r"""
import json, sys, time, warnings
warnings.simplefilter("ignore")
from pathlib import Path
import torch
from ecgzoo.apply.model import load_model
from ecgzoo.apply.predict import predict_records
torch.set_num_threads(1)
model = load_model(sys.argv[2])
folder = Path(sys.argv[1])
first = sorted(folder.glob("*.hea"))[0].with_suffix("")
predict_records(first, model)  # warm-up
t = time.perf_counter()
rows = predict_records(folder, model)
dt = time.perf_counter() - t
out = {"records": len(rows), "s": dt, "records_per_s": len(rows) / dt}
if sys.argv[3] == "evaluate":
    from ecgzoo.datasets.loading import load_data
    from ecgzoo.train.evaluate import predict_split
    split = load_data(model.config.data).split("test")
    predict_split(model.torch_model, model.spec, split)  # warm-up and cache
    t = time.perf_counter()
    predict_split(model.torch_model, model.spec, split)
    e = time.perf_counter() - t
    out.update({"eval_records": len(split.x), "eval_s": e, "eval_records_per_s": len(split.x) / e})
print(json.dumps(out))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", action="append", required=True, help="NAME=PATH")
    parser.add_argument("--model", default="pretrained:cinc2017")
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--no-evaluate", action="store_true", help="predict only")
    args = parser.parse_args()
    home = Path(os.environ.get("ECGZOO_HOME", Path.home() / ".cache" / "ecgzoo"))
    db = next(home.glob("physionet/challenge-2017/*/training2017"), None)
    if db is None:
        raise SystemExit(f"no extracted CinC 2017 under {home}; run `ecgzoo data fetch cinc2017`")
    trees = dict(item.split("=", 1) for item in args.src)
    last = list(trees)[-1]
    with tempfile.TemporaryDirectory(prefix="ecgzoo-predict-bench-") as tmp:
        names = (db / "RECORDS").read_text().split()[: args.n]
        for name in names:
            for path in db.glob(f"{name}.*"):
                shutil.copy(path, Path(tmp) / path.name)
        for _ in range(args.repeats):
            for name, path in trees.items():
                env = dict(os.environ, PYTHONPATH=str(Path(path).resolve() / "src"))
                mode = "evaluate" if name == last and not args.no_evaluate else "predict"
                load = os.getloadavg()[0]
                done = subprocess.run(
                    [sys.executable, "-c", INNER, tmp, args.model, mode],
                    env=env,
                    capture_output=True,
                    text=True,
                )
                if done.returncode != 0:
                    raise SystemExit(f"{name}: {done.stderr[-2000:]}")
                row = json.loads(done.stdout.strip().splitlines()[-1])
                row["load_1min"] = load
                print(f"{name}: {json.dumps({k: round(v, 2) for k, v in row.items()})}")
                time.sleep(1)


if __name__ == "__main__":
    main()
