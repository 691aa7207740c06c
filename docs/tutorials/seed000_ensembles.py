# %% [markdown]
# # Seed 000: initialization, momentum and ensembles
#
# **The questions** (Exercises #7, ensemble learning): is it fine to give every weight the same
# value, as long as that value is drawn at random? And what does momentum change?

# %%
import numpy as np
import glassnet as gn
from glassnet import data

x, y = data.xor(n=200, noise=0.05, seed=0)
y = y.reshape(-1, 1).astype(float)

# %% [markdown]
# ## Same value everywhere vs independent draws
# The first network starts with every weight equal (0.3, as if one He draw were copied
# everywhere); the second draws each weight independently (He). We train both and compare the hidden units' incoming weights.

# %%
def hidden_weights(init):
    model = gn.Sequential([gn.Dense(6, activation="tanh", kernel_init=init),
                           gn.Dense(1, activation="sigmoid", kernel_init=init)], input_shape=(2,), seed=0)
    hist = model.fit(x, y, loss="binary_cross_entropy", optimizer=gn.SGD(lr=0.5), batch_size=32,
                     steps=400, metrics=["accuracy"], progress=False)
    return model.layers[0].W.value[0], hist.final("accuracy")

for label, init in [("all equal (0.3)", gn.init.Constant(0.3)), ("He normal", gn.init.HeNormal())]:
    W, acc = hidden_weights(init)
    spread = np.ptp(W, axis=1).max()             # largest difference between units' weights
    print(f"{label:>16}: hidden units differ by at most {spread:.2g}, accuracy {acc:.2f}")

# %% [markdown]
# With equal weights every hidden unit computes the same function and receives the same
# gradient, so they stay copies of each other forever: six units behave like one. Independent
# draws break the symmetry.
#
# ## Momentum
# Eight networks, the same seeds, with and without momentum 0.9, on one model axis.

# %%
mus = [0.0, 0.9]
model = gn.Sequential([gn.Dense(8, activation="tanh"), gn.Dense(1, activation="sigmoid")],
                      input_shape=(2,), seed=[s for _ in mus for s in range(4)])
hist = model.fit(x, y, loss="binary_cross_entropy",
                 optimizer=gn.SGD(lr=0.05, momentum=[m for m in mus for _ in range(4)]),
                 batch_size=32, steps=600, progress=False)
final = hist.final("loss").reshape(2, 4)
print("final loss without momentum:", np.round(final[0], 3), "with 0.9:", np.round(final[1], 3))
hist.plot(per_model=True)

# %% [markdown]
# **What it shows:** at the same small learning rate, momentum (velocity `v = 0.9 v + g`)
# multiplies the effective step by up to 1/(1 - 0.9) = 10 along consistent directions, so the
# momentum networks (the lower curves) reach a lower loss in the same number of steps.
# The full studies: `glassnet study initialization` and `glassnet study momentum`.
