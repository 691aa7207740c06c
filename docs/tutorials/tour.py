# %% [markdown]
# # A 10-minute tour of glassnet
#
# **The question:** what does a "glass-box" library let you see that PyTorch or Keras hide?
# We train a tiny network, then 20 of them at once, and look inside.

# %%
import numpy as np
import glassnet as gn
from glassnet.notebook import LivePlot

x = np.eye(8)                        # 8 one-hot patterns; the network must copy them through 3 units
model = gn.Sequential([gn.Dense(3, activation="sigmoid"), gn.Dense(8, activation="sigmoid")],
                      input_shape=(8,), init=gn.init.Normal(std=0.1), seed=0)
model                                # in a notebook: the summary as a table

# %% [markdown]
# ## Train, and watch it learn
# `LivePlot` redraws the curves while `fit` runs (in a notebook; elsewhere it stays quiet).

# %%
hist = model.fit(x, x, loss="half_sse", optimizer=gn.SGD(lr=5.0), batch_size=8, steps=1_500,
                 metrics=["accuracy"], callbacks=[LivePlot()], progress=False)
hist                                 # final loss and accuracy

# %% [markdown]
# ## Look inside
# Every parameter and gradient is a named NumPy array.

# %%
{name: w.shape for name, w in model.params.items()}

# %% [markdown]
# ## Twenty networks in one program: the model axis
# Give `seed` a list and the same code trains an ensemble: every array gets a leading model
# axis, and learning rates (or weight decays) can differ per model.

# %%
lrs = [0.5, 2.0, 8.0, 20.0]
ens = gn.Sequential([gn.Dense(3, activation="sigmoid"), gn.Dense(8, activation="sigmoid")],
                    input_shape=(8,), init=gn.init.Normal(std=0.1),
                    seed=[s for _ in lrs for s in range(5)])
hist = ens.fit(x, x, loss="half_sse", optimizer=gn.SGD(lr=[lr for lr in lrs for _ in range(5)]),
               batch_size=8, steps=1_500, progress=False)
hist["loss"].shape

# %%
final = hist.final("loss").reshape(len(lrs), 5)
for lr, row in zip(lrs, final):
    print(f"lr = {lr:>5}: final loss {row.mean():.4f} (min {row.min():.4f}, max {row.max():.4f})")
fig = hist.plot()                    # mean over the 20 models with a min-max band
fig

# %% [markdown]
# **What it shows:** with the same budget of 1,500 steps, larger learning rates leave the
# sigmoid plateau sooner; the band is the spread over seeds and rates. Every one of these
# 20 networks is exactly the one a single run with its seed and rate would train.
#
# Next: the seed tutorials, or `gn.study("autoencoder-838", quick=True)` for the full experiment.
