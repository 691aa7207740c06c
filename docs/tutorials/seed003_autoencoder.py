# %% [markdown]
# # Seed 003: the 8-3-8 autoencoder
#
# **The question** (ACML assignment 1): a network with 8 inputs, 3 hidden sigmoid units and 8
# outputs must reproduce each of the 8 one-hot patterns. Can 3 units hold 8 patterns, and how?
# The assignment's loss is half the sum of squared errors (`half_sse`) with weight decay
# `lambda/2 * sum(W^2)`.

# %%
import numpy as np
import glassnet as gn

x = np.eye(8)
lams = [0.0, 1e-4, 1e-3]
model = gn.Sequential([gn.Dense(3, activation="sigmoid"), gn.Dense(8, activation="sigmoid")],
                      input_shape=(8,), init=gn.init.Normal(variance=0.01),
                      seed=[s for _ in lams for s in range(3)])
hist = model.fit(x, x, loss="half_sse", optimizer=gn.SGD(lr=8.0),
                 weight_decay=[l for l in lams for _ in range(3)], batch_size=8, steps=3_000,
                 metrics=["accuracy"], progress=False)
hist

# %%
hist.plot(per_model=True)

# %% [markdown]
# The loss sits on a **plateau** first (all outputs near 1/8), then drops once the hidden units
# split the patterns. Weight decay keeps weights small, and small sigmoid weights mean a longer
# plateau.
#
# ## What the hidden layer learned
# Pass the 8 patterns through the first layer of the first network and round the codes.

# %%
codes = model.layers[0].forward(x, train=False)[0]           # (8 patterns, 3 units), model 0
print(np.round(codes, 2))
print("distinct binary codes:", len({tuple(r) for r in np.round(codes).astype(int)}))

# %% [markdown]
# **What it shows:** each pattern gets its own corner-like code in the 3-D hidden space: 3 units
# give 2^3 = 8 binary codes, exactly enough for the 8 patterns (with smaller budgets some codes
# may still be intermediate values). The full study, with its weight-decay, learning-rate and
# batch-size sweeps, is `glassnet study autoencoder-838`.
