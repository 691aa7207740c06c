"""``glassnet demo``: the seed-003 autoencoder, end to end, on the embedded defaults."""

from __future__ import annotations

import click
import numpy as np


@click.command()
@click.option("--steps", default=20_000, show_default=True, help="Full-batch SGD steps.")
@click.option("--lr", default=0.5, show_default=True, help="Learning rate.")
@click.option("--weight-decay", default=0.0, show_default=True, help="L2 rate lambda (weights only).")
@click.option("--seeds", default=5, show_default=True, help="Networks trained together, seeds 0..N-1.")
def demo(steps, lr, weight_decay, seeds):
    """Train the 8-3-8 sigmoid autoencoder of seed 003 (N(0, 0.01) weights, half-SSE loss) as an
    ensemble of SEEDS networks on the model axis, and print each network's loss and accuracy."""
    import glassnet as gn  # noqa: PLC0415

    x = np.eye(8)
    model = gn.Sequential([gn.Dense(3, activation="sigmoid"), gn.Dense(8, activation="sigmoid")],
                          input_shape=(8,), init=gn.init.Normal(variance=0.01), seed=0, models=seeds)
    model.summary()
    hist = model.fit(x, x, loss="half_sse", optimizer=gn.SGD(lr=lr), weight_decay=weight_decay,
                     batch_size=8, steps=steps, metrics=["accuracy"])
    click.echo(f"\ntrained {seeds} networks x {steps:,} steps in {hist.seconds:.2f} s")
    click.echo(f"{'seed':>4}  {'final loss':>12}  {'argmax-correct':>14}  status")
    for m, seed in enumerate(model.seeds):
        click.echo(f"{seed:>4}  {hist.curves['loss'][m, -1]:>12.6f}  "
                   f"{int(round(hist.curves['accuracy'][m, -1] * 8)):>12}/8  {hist.status[m]}")
