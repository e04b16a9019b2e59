"""Reference solution (PyTorch): a Transformer encoder over token embeddings plus sinusoidal positions."""

import math

import torch
from torch import nn

try:
    from grader_progress import report_epoch  # inside the grader: the curve and the live epoch count
except ImportError:  # elsewhere

    def report_epoch(epoch, loss=None, **values):
        pass


SEQUENCE_LENGTH = 40
EPOCHS = 15
BATCH_SIZE = 64


def sinusoidal_positions(length, dim):
    """The fixed position encodings of "Attention Is All You Need": sines and cosines of many wavelengths."""
    position = torch.arange(length).unsqueeze(1)
    frequency = torch.exp(torch.arange(0, dim, 2) * (-math.log(10000.0) / dim))
    table = torch.zeros(length, dim)
    table[:, 0::2] = torch.sin(position * frequency)
    table[:, 1::2] = torch.cos(position * frequency)
    return table


class OrderTransformer(nn.Module):
    def __init__(self, vocab_size, num_classes, dim=32, heads=4, layers=1):
        super().__init__()
        self.tokens = nn.Embedding(vocab_size, dim, padding_idx=0)
        # fixed rather than learned: positions where a first marker is rare are encoded as well as the others
        self.register_buffer("positions", sinusoidal_positions(SEQUENCE_LENGTH, dim))
        # norm_first (pre-norm) trains more steadily from a cold start than the default post-norm
        layer = nn.TransformerEncoderLayer(dim, heads, 2 * dim, dropout=0.0, batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.classify = nn.Linear(dim, num_classes)

    def forward(self, x):
        padding = x == 0
        h = self.tokens(x) + self.positions[: x.shape[1]]
        h = self.encoder(h, src_key_padding_mask=padding)  # padding is not attended to
        real = (~padding).unsqueeze(-1).float()
        return self.classify((h * real).sum(dim=1) / real.sum(dim=1))  # mean over the real tokens: logits


def build_model(vocab_size, num_classes):
    return OrderTransformer(vocab_size, num_classes)


def train(model, x_train, y_train):
    x = torch.as_tensor(x_train)
    y = torch.as_tensor(y_train)
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    steps = EPOCHS * -(-len(x) // BATCH_SIZE)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)  # decays to zero over the run
    model.train()
    for epoch in range(EPOCHS):
        order = torch.randperm(len(x))
        correct = 0
        for start in range(0, len(x), BATCH_SIZE):
            batch = order[start : start + BATCH_SIZE]
            optimizer.zero_grad()
            logits = model(x[batch])
            loss = criterion(logits, y[batch])
            loss.backward()
            optimizer.step()
            schedule.step()
            correct += (logits.argmax(dim=1) == y[batch]).sum().item()
        print(f"epoch {epoch + 1}: loss {loss.item():.4f}, training accuracy {correct / len(x):.3f}")
        report_epoch(epoch + 1, loss=loss.item(), epochs=EPOCHS)
    return model


def predict(model, x):
    model.eval()
    with torch.no_grad():
        return model(torch.as_tensor(x)).argmax(dim=1).numpy()
