"""Reference solution (Keras): one Transformer encoder block over token and position embeddings."""

import keras
from keras import layers, ops

SEQUENCE_LENGTH = 40
EPOCHS = 12
BATCH_SIZE = 64


class TokenAndPositionEmbedding(layers.Layer):
    """The embedding of each token plus a learned embedding of its position."""

    def __init__(self, vocab_size, length, dim, **kwargs):
        super().__init__(**kwargs)
        self.tokens = layers.Embedding(vocab_size, dim)
        self.positions = layers.Embedding(length, dim)

    def call(self, x):
        return self.tokens(x) + self.positions(ops.arange(ops.shape(x)[-1]))


def build_model(vocab_size, num_classes, dim=32):
    keras.backend.clear_session()
    tokens = keras.Input(shape=(SEQUENCE_LENGTH,), dtype="int64")
    real = ops.not_equal(tokens, 0)  # padding is neither attended to nor averaged
    x = TokenAndPositionEmbedding(vocab_size, SEQUENCE_LENGTH, dim)(tokens)
    attended = layers.MultiHeadAttention(num_heads=4, key_dim=dim // 4)(
        x, x, attention_mask=ops.logical_and(real[:, None, :], real[:, :, None])
    )
    x = layers.LayerNormalization()(x + attended)
    x = layers.LayerNormalization()(x + layers.Dense(dim)(layers.Dense(2 * dim, activation="relu")(x)))
    x = layers.GlobalAveragePooling1D()(x, mask=real)
    outputs = layers.Dense(num_classes, activation="softmax")(x)
    return keras.Model(tokens, outputs)


def train(model, x_train, y_train):
    steps = EPOCHS * -(-len(x_train) // BATCH_SIZE)  # the learning rate decays to zero over the whole run
    optimizer = keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(3e-3, steps))
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=EPOCHS, batch_size=BATCH_SIZE, verbose=2)
    return model


def predict(model, x):
    return model.predict(x, verbose=0).argmax(axis=1)
