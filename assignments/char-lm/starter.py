"""Character-level language model. Fill in build_model and train; predict and generate are optional.

As given, the model looks at one character at a time: it learns which character tends to follow
which, the bigram baseline, and earns no points. Give it a recurrent layer that reads the context.
"""

import keras
import numpy as np

WINDOW = 100  # characters per training sequence
EPOCHS = 3
BATCH_SIZE = 64


def build_model(vocab_size):
    """Return a model mapping character ids (batch, length) to next-character logits (batch, length, vocab_size)."""
    model = keras.Sequential(
        [
            keras.Input(shape=(None,), dtype="int64"),  # any length: windows to train, contexts of 64 after
            keras.layers.Embedding(vocab_size, 32),
            # TODO: add a layer that reads the characters in order and keeps every position,
            # e.g. keras.layers.LSTM(128, return_sequences=True) or keras.layers.GRU(128, return_sequences=True).
            keras.layers.Dense(vocab_size),  # logits for every position
        ]
    )
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def train(model, tokens):
    """Cut the text into windows; each window's targets are the same characters shifted by one."""
    count = (len(tokens) - 1) // WINDOW
    rows = np.arange(count)[:, None] * WINDOW + np.arange(WINDOW + 1)
    windows = tokens[rows]
    model.fit(windows[:, :-1], windows[:, 1:], epochs=EPOCHS, batch_size=BATCH_SIZE, verbose=2)
    return model


# Optional: predict(model, contexts) to return next-character scores yourself (without it, the grader
# takes your model's output at the last position), and generate(model, prompt, length) to show a sample.
