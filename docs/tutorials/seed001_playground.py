# %% [markdown]
# # Seed 001: the TensorFlow Playground exercises
#
# **The question** (INF264, exercise 4): on the 2-D "circle" data, what does a network need:
# extra input features, or hidden neurons? The same data sets as the Playground are in
# `glassnet.data`, and `glassnet playground` serves the page itself.

# %%
import numpy as np
import glassnet as gn
from glassnet import data

x, y = data.circle(n=300, noise=0.05, seed=0)
y = y.reshape(-1, 1).astype(float)
x_sq = np.column_stack([x, x ** 2])          # add the features x1^2 and x2^2

def train(inputs, hidden, seeds=3):
    layers = ([gn.Dense(hidden, activation="tanh")] if hidden else []) + [gn.Dense(1, activation="sigmoid")]
    model = gn.Sequential(layers, input_shape=(inputs.shape[1],), seed=list(range(seeds)))
    return model.fit(inputs, y, loss="binary_cross_entropy", optimizer=gn.Adam(0.03), batch_size=32,
                     steps=300, metrics=["accuracy"], progress=False)

runs = {"x1, x2; no hidden layer": train(x, 0), "x1, x2; 4 hidden tanh": train(x, 4),
        "x1, x2, x1², x2²; no hidden layer": train(x_sq, 0)}
for name, hist in runs.items():
    print(f"{name:>36}: accuracy {np.mean(hist.final('accuracy')):.2f}")

# %%
runs["x1, x2; no hidden layer"].plot()

# %% [markdown]
# **What it shows:** without hidden units and with only x1, x2 the model is a line and cannot
# separate a circle (accuracy near chance). Either give it hidden neurons (they build the curve
# from several lines) or give it the squared features, in which the circle *is* linearly
# separable: feature engineering and depth are two roads to the same boundary.
# `glassnet study playground-exercises` runs all of the exercise's questions.
