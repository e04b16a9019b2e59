"""Reference solution (Keras): a small CNN kept from memorising wrong labels by shifted copies and dropout."""

import math

import keras
from keras import layers

EPOCHS = 100
BATCH_SIZE = 32


def build_model(input_shape, num_classes):
    keras.backend.clear_session()
    model = keras.Sequential(
        [
            keras.Input(shape=input_shape),
            # Augmentation, active in training only: each time an image is seen it moves by -1, 0 or +1 pixel
            # in each direction (a random shift of up to 1.5 of its 8 pixels, rounded to whole pixels).
            layers.RandomTranslation(1.5 / 8, 1.5 / 8, fill_mode="constant", interpolation="nearest"),
            layers.Conv2D(64, 3, padding="same", activation="relu"),
            layers.Conv2D(64, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(),
            layers.Flatten(),
            layers.Dropout(0.3),
            layers.Dense(64, activation="relu"),
            layers.Dropout(0.3),
            layers.Dense(num_classes, activation="softmax"),
        ]
    )
    return model


def train(model, x_train, y_train):
    # The learning rate falls from 0.002 to 0 along a cosine: big steps first, then the weights settle.
    steps = EPOCHS * math.ceil(len(x_train) / BATCH_SIZE)
    learning_rate = keras.optimizers.schedules.CosineDecay(2e-3, decay_steps=steps)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    model.fit(x_train, y_train, epochs=EPOCHS, batch_size=BATCH_SIZE, verbose=2)
    return model


def predict(model, x):
    return model.predict(x, verbose=0).argmax(axis=1)
