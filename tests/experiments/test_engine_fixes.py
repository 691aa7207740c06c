"""Engine fixes made while building the experiments layer (each with the bug it guards)."""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet.errors import GlassnetError
from glassnet.losses import losses


@pytest.mark.parametrize("name", ["softmax_cross_entropy", "cross_entropy"])
def test_one_hot_rows_of_the_wrong_width_are_refused(name):
    # before: (8, 8) one-hot floats for a 3-output model were read as integer labels < 3 and
    # failed later inside training with a NumPy broadcasting error
    loss = losses.get(name)()
    with pytest.raises(GlassnetError, match="one-hot rows of 8 columns but the model has 3 outputs"):
        loss.prepare_targets(np.eye(8), (3,))
    model = gn.Sequential([gn.Dense(3)], input_shape=(8,))
    with pytest.raises(GlassnetError, match="one-hot rows of 8 columns"):
        model.fit(np.eye(8), np.eye(8), loss=name, steps=1)
    # still accepted: labels as whole floats, one-hot rows of the right width
    assert loss.prepare_targets(np.array([0.0, 2.0, 1.0]), (3,)).dtype.kind == "i"
    np.testing.assert_array_equal(loss.prepare_targets(np.eye(3), (3,)), np.eye(3))


def test_sweep_check_names_the_table_of_a_mismatch(tmp_path):
    from expt_helpers import make_raw
    from glassnet.experiments import RunStore, run_sweep, validate

    cfg = validate(make_raw(model={"output_units": 3}))
    with RunStore(tmp_path) as st, pytest.raises(GlassnetError, match=r"^c: training.loss: .*8"):
        run_sweep(cfg, st, progress=False, echo=None, source="c")
