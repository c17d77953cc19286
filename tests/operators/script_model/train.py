"""A data scientist's training script, with no Dockerfile: the python-script template builds its image."""

import argparse
import glob
import json
import os
import sys

import six  # from requirements.txt: installed from wheels downloaded on the build host

parser = argparse.ArgumentParser()
parser.add_argument("--scale", type=float, default=1.0)
parser.add_argument("--note", default="")
parser.add_argument("--fail", default="")
args = parser.parse_args()
if args.fail:
    sys.exit(f"asked to fail: {args.fail}")
values = []
for path in sorted(glob.glob(os.path.join(os.environ["SM_CHANNEL_TRAIN"], "*.csv"))):
    with open(path) as handle:
        values += [float(line.split(",")[0]) for line in handle if line.strip()]
mean = sum(values) / len(values) * args.scale
with open(os.path.join(os.environ["SM_MODEL_DIR"], "model.json"), "w") as handle:
    json.dump({"mean": mean}, handle)
seen = {name: value for name, value in os.environ.items() if name.startswith("SM_")}
seen.update(argv=sys.argv[1:], six=six.__version__)
with open(os.path.join(os.environ["SM_OUTPUT_DATA_DIR"], "seen.json"), "w") as handle:
    json.dump(seen, handle)
print(f"mean={mean};")
