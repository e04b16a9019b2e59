"""Reference solution (PyTorch): the same perceptron with an explicit training loop."""

import torch
from torch import nn

try:
    from grader_progress import report_epoch  # inside the grader: the curve and the live epoch count
except ImportError:  # elsewhere

    def report_epoch(epoch, loss=None, **values):
        pass


class DigitsMLP(nn.Module):
    def __init__(self, input_dim, num_classes):
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(input_dim, 64), nn.ReLU(), nn.Linear(64, num_classes))

    def forward(self, x):
        return self.layers(x)


def build_model(input_dim, num_classes):
    return DigitsMLP(input_dim, num_classes)


def train(model, x_train, y_train):
    x = torch.as_tensor(x_train)
    y = torch.as_tensor(y_train)
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    for epoch in range(40):
        order = torch.randperm(len(x))
        for start in range(0, len(x), 32):
            batch = order[start : start + 32]
            optimizer.zero_grad()
            loss = criterion(model(x[batch]), y[batch])
            loss.backward()
            optimizer.step()
        print(f"epoch {epoch + 1}: loss {loss.item():.4f}")
        report_epoch(epoch + 1, loss=loss.item(), epochs=40)
    return model


def predict(model, x):
    model.eval()
    with torch.no_grad():
        return model(torch.as_tensor(x)).argmax(dim=1).numpy()
