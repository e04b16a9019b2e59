"""Reference solution (Keras): embeddings read in both directions by a bidirectional GRU.

Reviews are padded with 0 at the start, so the backward GRU begins at the
review's last word and the forward GRU ends there: together they see which
clause comes after "but" and which word a "not" belongs to.
"""

import keras


def build_model(vocab_size, num_classes):
    keras.backend.clear_session()
    model = keras.Sequential(
        [
            keras.Input(shape=(None,), dtype="int64"),
            keras.layers.Embedding(vocab_size, 32),
            keras.layers.Bidirectional(keras.layers.GRU(32)),
            keras.layers.Dense(num_classes, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=0.003),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def train(model, x_train, y_train):
    model.fit(x_train, y_train, epochs=6, batch_size=64, verbose=2)
    return model


def predict(model, x):
    return model.predict(x, batch_size=256, verbose=0).argmax(axis=1)
