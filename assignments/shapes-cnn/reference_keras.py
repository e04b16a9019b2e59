"""Reference solution (Keras): two convolution + pooling blocks and a small dense head.

Keras hands images over channels last: x has shape (n, 28, 28, 1).
"""

import keras

EPOCHS = 12
BATCH_SIZE = 64


def build_model(input_shape, num_classes):
    keras.backend.clear_session()
    return keras.Sequential(
        [
            keras.Input(shape=input_shape),  # (28, 28, 1): height, width, channels
            keras.layers.Conv2D(16, 3, padding="same", activation="relu"),
            keras.layers.MaxPooling2D(2),  # 14 x 14
            keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
            keras.layers.MaxPooling2D(2),  # 7 x 7
            keras.layers.Flatten(),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(num_classes, activation="softmax"),
        ]
    )


def train(model, x_train, y_train):
    steps = EPOCHS * -(-len(x_train) // BATCH_SIZE)  # batches in the whole run
    learning_rate = keras.optimizers.schedules.CosineDecay(0.003, decay_steps=steps)  # smaller steps at the end
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    model.fit(x_train, y_train, epochs=EPOCHS, batch_size=BATCH_SIZE, verbose=2)
    return model


def predict(model, x):
    return model.predict(x, batch_size=256, verbose=0).argmax(axis=1)
