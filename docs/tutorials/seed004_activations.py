# %% [markdown]
# # Seed 004: activation functions and dead ReLUs
#
# **The question:** a ReLU unit whose input is always negative outputs 0 and gets a zero
# gradient, so it never learns again. Does that happen in practice, and does LeakyReLU fix it?

# %%
import numpy as np
import glassnet as gn
from glassnet import activations

z = np.linspace(-3, 3, 7)
print("z =", z)
for name in ["relu", "leaky_relu", "tanh", "sigmoid"]:
    act = activations.activations.get(name)()
    a = act(z)
    print(f"{name:>10}: {act.formula:<32} f'(z) = {np.round(act.derivative(z, a), 2)}")

# %% [markdown]
# ## An experiment: push the units to dead on purpose
# Eight networks per activation start with a large negative bias, so every hidden unit is off
# for every input. We count how many hidden units still respond after training.

# %%
from glassnet import data

x, y = data.circle(n=200, noise=0.05, seed=0)
y = y.reshape(-1, 1).astype(float)
alive = {}
for act in ["relu", "leaky_relu", "tanh"]:
    model = gn.Sequential([gn.Dense(8, activation=act, bias_init=gn.init.Constant(-3.0)),
                           gn.Dense(1, activation="sigmoid")], input_shape=(2,), seed=list(range(4)))
    hist = model.fit(x, y, loss="binary_cross_entropy", optimizer=gn.SGD(lr=0.5), batch_size=32,
                     steps=300, metrics=["accuracy"], progress=False)
    h = model.layers[0].forward(x, train=False)    # (models, samples, units)
    alive[act] = (np.abs(h).max(axis=1) > 1e-6).mean(axis=1)
    print(f"{act:>10}: live hidden units {alive[act].mean():.0%}, "
          f"final accuracy {np.mean(hist.final('accuracy')):.2f}")

# %%
hist.plot()

# %% [markdown]
# **What it shows:** a ReLU unit whose pre-activation is negative for every input has a gradient of
# exactly zero, so it stays dead: only the units some inputs still reach survive, and the
# network fits the circle with fewer units. LeakyReLU's small negative slope keeps a gradient
# flowing (0.01 above), and tanh never outputs a flat zero, so all their units keep learning. `glassnet study dead-relu` checks
# each of these claims on the numbers.
