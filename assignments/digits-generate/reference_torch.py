"""Reference solution (PyTorch): a conditional variational autoencoder (VAE) with an explicit training loop."""

import torch
from torch import nn
from torch.nn import functional as F

try:
    from grader_progress import report_epoch  # inside the grader: the curve and the live epoch count
except ImportError:  # elsewhere

    def report_epoch(epoch, loss=None, **values):
        pass


EPOCHS = 300
BATCH_SIZE = 128
LATENT = 8


class ConditionalVAE(nn.Module):
    """Encodes an image and its label into a small Gaussian code; decodes a code and a label into an image."""

    def __init__(self, input_shape, num_classes):
        super().__init__()
        height, width, channels = input_shape  # the images themselves arrive as (n, channels, height, width)
        self.image_shape = (channels, height, width)
        self.num_classes = num_classes
        pixels = channels * height * width
        self.encoder = nn.Sequential(nn.Linear(pixels + num_classes, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU())
        self.mean = nn.Linear(256, LATENT)
        self.log_variance = nn.Linear(256, LATENT)
        self.decoder = nn.Sequential(
            nn.Linear(LATENT + num_classes, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, pixels)
        )

    def encode(self, images, labels):
        hidden = self.encoder(torch.cat([images.flatten(1), self.one_hot(labels)], dim=1))
        return self.mean(hidden), self.log_variance(hidden)

    def decode(self, codes, labels):
        """Return pixel logits (apply a sigmoid for pixel values in [0, 1])."""
        logits = self.decoder(torch.cat([codes, self.one_hot(labels)], dim=1))
        return logits.view(-1, *self.image_shape)

    def one_hot(self, labels):
        return F.one_hot(labels, self.num_classes).float()

    def forward(self, images, labels):
        mean, log_variance = self.encode(images, labels)
        codes = mean + torch.randn_like(mean) * torch.exp(0.5 * log_variance)  # the reparameterisation trick
        return self.decode(codes, labels), mean, log_variance


def build_model(input_shape, num_classes):
    return ConditionalVAE(input_shape, num_classes)


def train(model, x_train, y_train):
    x = torch.as_tensor(x_train)
    y = torch.as_tensor(y_train)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    model.train()
    for epoch in range(EPOCHS):
        order = torch.randperm(len(x))
        total = 0.0
        for start in range(0, len(x), BATCH_SIZE):
            batch = order[start : start + BATCH_SIZE]
            optimizer.zero_grad()
            logits, mean, log_variance = model(x[batch], y[batch])
            # Reconstruction: cross-entropy of every pixel (grey levels in [0, 1] are valid targets).
            reconstruction = F.binary_cross_entropy_with_logits(logits, x[batch], reduction="sum")
            # Keep the codes close to N(0, 1), so that codes drawn from N(0, 1) decode to digits.
            kl = -0.5 * torch.sum(1 + log_variance - mean.pow(2) - log_variance.exp())
            loss = (reconstruction + kl) / len(batch)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(batch)
        report_epoch(epoch + 1, loss=total / len(x), epochs=EPOCHS)
    return model


def sample(model, labels):
    model.eval()
    with torch.no_grad():
        labels = torch.as_tensor(labels)
        codes = torch.randn(len(labels), LATENT)
        return torch.sigmoid(model.decode(codes, labels)).numpy()  # (n, 1, 8, 8), in [0, 1]
