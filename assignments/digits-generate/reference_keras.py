"""Reference solution (Keras): a conditional variational autoencoder (VAE), trained by fit."""

import keras
import numpy as np
from keras import layers, ops

EPOCHS = 300
BATCH_SIZE = 128
LATENT = 8


class ConditionalVAE(keras.Model):
    """Encodes an image and its label into a small Gaussian code; decodes a code and a label into an image."""

    def __init__(self, input_shape, num_classes):
        super().__init__()
        self.num_classes = num_classes
        self.pixels = int(np.prod(input_shape))
        self.encoder = keras.Sequential(
            [layers.Dense(256, activation="relu"), layers.Dense(256, activation="relu"), layers.Dense(2 * LATENT)]
        )
        self.decoder = keras.Sequential(
            [
                layers.Dense(256, activation="relu"),
                layers.Dense(256, activation="relu"),
                layers.Dense(self.pixels),
                layers.Reshape(input_shape),
            ]
        )
        self.noise = keras.random.SeedGenerator(0)

    def call(self, inputs):
        """Return pixel logits of the image rebuilt from a random code near the image's own."""
        images, labels = inputs
        one_hot = ops.one_hot(labels, self.num_classes)
        statistics = self.encoder(ops.concatenate([ops.reshape(images, (-1, self.pixels)), one_hot], axis=1))
        mean, log_variance = ops.split(statistics, 2, axis=1)
        codes = mean + keras.random.normal(ops.shape(mean), seed=self.noise) * ops.exp(0.5 * log_variance)
        # Keep the codes close to N(0, 1), so that codes drawn from N(0, 1) decode to digits.
        self.add_loss(-0.5 * ops.mean(ops.sum(1 + log_variance - mean**2 - ops.exp(log_variance), axis=1)))
        return self.decoder(ops.concatenate([codes, one_hot], axis=1))

    def generate(self, labels):
        codes = keras.random.normal((len(labels), LATENT), seed=self.noise)
        logits = self.decoder(ops.concatenate([codes, ops.one_hot(labels, self.num_classes)], axis=1))
        return ops.sigmoid(logits)


def reconstruction_loss(images, logits):
    """Cross-entropy of every pixel, summed over the image (grey levels in [0, 1] are valid targets)."""
    return ops.sum(ops.binary_crossentropy(images, logits, from_logits=True), axis=(1, 2, 3))


def build_model(input_shape, num_classes):
    keras.backend.clear_session()
    return ConditionalVAE(tuple(input_shape), num_classes)


def train(model, x_train, y_train):
    model.compile(optimizer=keras.optimizers.Adam(2e-3), loss=reconstruction_loss)
    model.fit([x_train, y_train], x_train, epochs=EPOCHS, batch_size=BATCH_SIZE, verbose=2)
    return model


def sample(model, labels):
    return keras.ops.convert_to_numpy(model.generate(labels))  # (n, 8, 8, 1), in [0, 1]
