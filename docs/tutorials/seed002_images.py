# %% [markdown]
# # Seed 002: a small image classifier
#
# **The questions** (HW4): what does changing the activation do to a classifier, and what do
# its layers cost in parameters? We use scikit-learn-free data: glassnet's procedural 32x32
# shapes, shrunk to keep this quick.

# %%
import numpy as np
import glassnet as gn
from glassnet import data

ds = data.datasets.get("shapes")(n_per_class=30, classes=4, size=12, seed=0)
x, y = ds.x, ds.y
x = x.reshape(len(x), -1).astype(np.float32)
x = (x - x.mean()) / x.std()
print("images:", x.shape, "classes:", np.unique(y))

# %% [markdown]
# ## Parameters first
# A dense layer of `n_in -> n_out` has `n_in * n_out + n_out` parameters; the summary counts them.

# %%
def build(act, seeds):
    return gn.Sequential([gn.Dense(32, activation=act), gn.Dense(4, activation="softmax")],
                         input_shape=(x.shape[1],), seed=seeds)

model = build("relu", 0)
model.summary()

# %% [markdown]
# ## ReLU, LeakyReLU, tanh, sigmoid: same budget, three seeds each

# %%
acts = ["relu", "leaky_relu", "tanh", "sigmoid"]
hists = {}
for act in acts:
    model = build(act, [0, 1, 2])
    hists[act] = model.fit(x, y, loss="softmax_cross_entropy", optimizer=gn.Adam(3e-3), batch_size=32,
                           steps=200, metrics=["accuracy"], progress=False)
    print(f"{act:>10}: training accuracy {np.mean(hists[act].final('accuracy')):.2f}, "
          f"loss {np.mean(hists[act].final('loss')):.3f}")

# %%
hists["sigmoid"].plot()

# %% [markdown]
# **What it shows:** on the same budget the non-saturating activations (ReLU, LeakyReLU) and
# tanh (zero-centred) usually train faster than sigmoid, whose derivative is at most 0.25 and
# whose outputs are all positive. The full experiment, with the seed's CNN and its
# half-width twin, is `glassnet study image-classifier`.
