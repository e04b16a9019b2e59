"""Reference solution (PyTorch): a character-level GRU trained on windows of the text to predict each next character."""

import numpy as np
import torch
from torch import nn

try:
    from grader_progress import report_epoch  # inside the grader: the curve and the live epoch count
except ImportError:  # elsewhere

    def report_epoch(epoch, loss=None, **values):
        pass


WINDOW = 100  # characters per training sequence
EPOCHS = 8
BATCH_SIZE = 64


class CharGRU(nn.Module):
    def __init__(self, vocab_size, dim=32, hidden=128):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, dim)
        self.gru = nn.GRU(dim, hidden, batch_first=True)
        self.out = nn.Linear(hidden, vocab_size)

    def forward(self, x, state=None):
        h, state = self.gru(self.embed(x), state)
        return self.out(h), state  # logits for every position: (batch, length, vocab_size)


def build_model(vocab_size):
    return CharGRU(vocab_size)


def train(model, tokens):
    text = torch.as_tensor(tokens)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    criterion = nn.CrossEntropyLoss()
    count = (len(text) - 1) // WINDOW
    model.train()
    for epoch in range(EPOCHS):
        offset = int(torch.randint(WINDOW, (1,)))  # windows start at a new place each epoch
        starts = offset + WINDOW * torch.randperm(count - 1)
        total = 0.0
        for first in range(0, len(starts), BATCH_SIZE):
            rows = starts[first : first + BATCH_SIZE, None] + torch.arange(WINDOW + 1)
            batch = text[rows]
            optimizer.zero_grad()
            logits, _ = model(batch[:, :-1])
            loss = criterion(logits.reshape(-1, logits.shape[-1]), batch[:, 1:].reshape(-1))
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            total += loss.item() * len(rows)
        loss = total / len(starts)
        print(f"epoch {epoch + 1}: loss {loss:.4f} ({loss / np.log(2):.3f} bits per character)")
        report_epoch(epoch + 1, loss=loss, epochs=EPOCHS)
    return model


def predict(model, contexts):
    model.eval()
    with torch.no_grad():
        logits, _ = model(torch.as_tensor(contexts))
    return logits[:, -1, :].numpy()  # the scores of the character after each context


def generate(model, prompt, length):
    """Continue the prompt by sampling one character at a time, carrying the GRU's state."""
    model.eval()
    generator = torch.Generator().manual_seed(0)
    ids = []
    with torch.no_grad():
        logits, state = model(torch.as_tensor(prompt)[None])
        for _ in range(length):
            probabilities = torch.softmax(logits[0, -1], dim=-1)
            ids.append(int(torch.multinomial(probabilities, 1, generator=generator)))
            logits, state = model(torch.tensor([[ids[-1]]]), state)
    return np.array(ids)
