"""Guided lessons: one per exercise of seed 001 (TensorFlow Playground exercises and a hand backprop).

A lesson is a page setup (settings, as the URL holds them), what to try and what to look for;
the backprop lesson also has ``actions``, messages that set the exercise's weights and trace its
point. The page lists them (``/settings.js`` exports ``LESSONS``), and opening one sets its
settings and ``lesson`` (a setting too), so a lesson is a link like any page state:
``#lesson=lr-high&learningRate=3&...``. The numbers a lesson promises are checked by
``tests/playground/test_playground_lessons.py``.
"""

from __future__ import annotations

#: the seed's exercise numbers: 1a-1e (preliminary), 2 (a linear network), 3 (regression),
#: 4 (classification), and the neural-network part's forward/backward pass
LESSONS: list[dict] = [
    {"id": "reset", "exercise": "1a", "title": "What does the reset button do?",
     "settings": {"dataset": "circle"},
     "try": ["Press play and let it train to about epoch 200, then pause.",
             "Press ↺ (reset, left of play)."],
     "look": "The epoch goes back to 0, the test loss jumps back up and every neuron's picture changes: "
             "reset draws new initial weights (the data stay). Training starts over from them."},
    {"id": "init", "exercise": "1b", "title": "Different initial weights, different final weights",
     "settings": {"dataset": "xor", "learningRate": 0.1, "ensemble": 8, "ensembleSweep": "seed"},
     "try": ["Eight copies of the same network start from eight random initializations (the ensemble "
             "view, below the output). Press play for about 300 epochs."],
     "look": "The copies end with different boundaries and different losses, and some stay stuck: the loss "
             "is not convex, so gradient descent settles in a minimum near where it started. The "
             "disagreement map shows where the copies still differ; click a stuck copy to inspect it."},
    {"id": "lr-low", "exercise": "1c", "title": "A learning rate too low",
     "settings": {"dataset": "circle", "learningRate": 0.0001},
     "try": ["Press play and watch the loss curve for a few hundred epochs.",
             "Then set 'Copies trained at once' to 8 and 'Copies differ in' to learning rate."],
     "look": "At 0.0001 the loss hardly moves: every step is tiny, so many more epochs are needed (and a "
             "network can stay near a poor minimum close to its start). In the sweep, the small rates "
             "crawl while 0.03-0.3 converge."},
    {"id": "lr-high", "exercise": "1d", "title": "A learning rate too high",
     "settings": {"dataset": "circle", "noise": 20, "learningRate": 1},
     "try": ["Press play and watch the test loss curve.", "Try 3 and 10, then 0.03."],
     "look": "At 1 the test loss jumps up and down instead of settling: each step overshoots, and the last "
             "batch's noise throws the boundary around. At 3 it jumps up and sticks near 0.8, and at 10 "
             "training stalls (the page says why: saturated units); a regression at 10 diverges and the "
             "NaN guard stops it. At 0.03 the curve comes down smoothly."},
    {"id": "batch", "exercise": "1e", "title": "Batch size and noise",
     "settings": {"dataset": "gauss", "noise": 50, "batchSize": 1, "learningRate": 0.03},
     "try": ["Press play with batch size 1 and watch the test loss curve.",
             "Pause, move the batch size slider to 30, press play again."],
     "look": "With one point per step the curve is jagged (each step follows one noisy point); with 30 the "
             "steps average over the noise and the curve is smooth. Larger batches trade speed per epoch "
             "for steadier steps."},
    {"id": "linear", "exercise": "2", "title": "A 2-3-2-1 network of linear units is one matrix",
     "settings": {"dataset": "circle", "activation": "identity", "networkShape": [3, 2], "learningRate": 0.03},
     "try": ["Press play for a few hundred epochs. Hover the neurons.",
             "Then set the activation to tanh."],
     "look": "Every neuron's picture is a plane and the boundary stays a straight line, accuracy near 50%: "
             "with f(z) = z the output is W3·W2·W1·x, one 1x2 matrix (shapes: H1 in R^3, H2 in R^2; W1 3x2, "
             "W2 2x3, W3 1x2). With tanh the circle is learned."},
    {"id": "regression", "exercise": "3", "title": "MLP regression: linear vs non-linear",
     "settings": {"problem": "regression", "regDataset": "multi_gaussian", "activation": "identity",
                  "networkShape": [4, 2], "learningRate": 0.03},
     "try": ["Press play: the linear network fits a plane.", "Set the activation to tanh and press play again."],
     "look": "The linear model cannot follow the bumps (the data are not linear); with tanh the network "
             "bends its output to the data, as non-linear basis functions do in linear regression."},
    {"id": "xor", "exercise": "4", "title": "MLP classification and the X₁X₂ feature",
     "settings": {"dataset": "xor", "networkShape": [], "learningRate": 0.03},
     "try": ["With no hidden layer and inputs X₁, X₂ only, press play.",
             "Click the X₁X₂ input (its square, left of the diagram) and press play again."],
     "look": "Without hidden layers the model is linear and stays near 50% accuracy: half the points are "
             "blue, so guessing one class scores 0.5, the baseline to beat. X₁X₂ is positive exactly where "
             "the class is blue, so one weight on it solves the problem: with the right feature no "
             "network is needed."},
    {"id": "backprop", "exercise": "NN", "title": "Forward and backward pass by hand: x=1, y=5",
     "settings": {"problem": "regression", "x": True, "y": False, "networkShape": [1], "activation": "relu",
                  "learningRate": 0.1, "regularization": "none"},
     "actions": [{"type": "edit", "layer": 0, "param": "W", "i": 0, "j": 0, "value": 3},
                 {"type": "edit", "layer": 0, "param": "b", "i": 0, "value": 0},
                 {"type": "edit", "layer": 1, "param": "W", "i": 0, "j": 0, "value": 2},
                 {"type": "edit", "layer": 1, "param": "b", "i": 0, "value": 0},
                 {"type": "trace", "x1": 1, "x2": 0, "label": 5}],
     "try": ["Press 'Show me': it sets w1 = 3 and w2 = 2 (biases 0) and follows the point x = 1 with target "
             "y = 5 through the network (the backprop panel, below).",
             "Step through 1 · Forward, 2 · Backward, 3 · Update."],
     "look": "Forward: z = w1·x = 3, h = max(0, 3) = 3, ŷ = w2·h = 6, L = ½(y − ŷ)² = 0.5. Backward: "
             "dL/dŷ = ŷ − y = 1, dL/dw2 = 1·h = 3, dL/dh = w2 = 2, ReLU passes it (z > 0), dL/dw1 = 2·x = 2. "
             "Update with lr 0.1: w1 = 3 − 0.2 = 2.8, w2 = 2 − 0.3 = 1.7."},
]

BY_ID = {lesson["id"]: lesson for lesson in LESSONS}
