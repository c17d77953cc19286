"""The inference module of the script model: model_fn and predict_fn; input and output use the defaults."""

import json
import os


def model_fn(model_dir):
    with open(os.path.join(model_dir, "model.json")) as handle:
        return json.load(handle)


def predict_fn(rows, model):
    return [[model["mean"] * sum(row)] for row in rows]
