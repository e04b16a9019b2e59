"""Reference solution (PyTorch): a small Q-network on one-hot states, trained by DQN.

DQN: epsilon-greedy episodes fill a replay buffer; after each episode, a few
minibatches drawn from it move Q(state, action) towards
reward + GAMMA * max Q_target(next state), where Q_target is a copy of the
network refreshed every few episodes (a target that does not move at every
step).
"""

import copy

import numpy as np
import torch
from torch import nn

try:
    from grader_progress import report_epoch  # inside the grader: the curve and the live progress
except ImportError:  # elsewhere

    def report_epoch(epoch, loss=None, **values):
        pass


EPISODES = 2000  # cap the episodes, never race the clock
GAMMA = 0.99  # discount: close to 1, because the slippery ice makes the safe path long
EPSILON_FLOOR = 0.1  # exploration falls from 1.0 to this over the first half of training
BATCH_SIZE = 256
UPDATES_PER_EPISODE = 2
TARGET_EVERY = 20  # episodes between two refreshes of the target network
REPORT_EVERY = 100  # episodes per point of the training curve


def build_agent(observation_space, action_space):
    """A Q-network: a state as a one-hot vector of 16 in, one Q-value per action out."""
    return nn.Sequential(
        nn.Linear(int(observation_space.n), 64),
        nn.ReLU(),
        nn.Linear(64, int(action_space.n)),
    )


def one_hot(states, size):
    """States (numbers) as one-hot float rows."""
    return torch.eye(size)[torch.as_tensor(states)]


class ReplayBuffer:
    """Every transition seen, in preallocated arrays (appending to lists and converting them is slow)."""

    def __init__(self, capacity):
        self.states = np.zeros(capacity, dtype=np.int64)
        self.actions = np.zeros(capacity, dtype=np.int64)
        self.rewards = np.zeros(capacity, dtype=np.float32)
        self.next_states = np.zeros(capacity, dtype=np.int64)
        self.ends = np.zeros(capacity, dtype=np.float32)  # 1.0 where a hole or the goal ended the episode
        self.size = 0

    def add(self, state, action, reward, next_state, end):
        i = self.size
        self.states[i], self.actions[i], self.rewards[i] = state, action, reward
        self.next_states[i], self.ends[i] = next_state, end
        self.size += 1

    def sample(self, rng, count):
        picked = rng.integers(self.size, size=count)
        return (
            self.states[picked],
            torch.as_tensor(self.actions[picked]),
            torch.as_tensor(self.rewards[picked]),
            self.next_states[picked],
            torch.as_tensor(self.ends[picked]),
        )


def train(agent, make_env):
    # NumPy is seeded by the grader (the assignment's seed): the environment's seed is reproducible.
    seed = int(np.random.randint(2**31))
    env = make_env(seed=seed)
    rng = np.random.default_rng(seed)
    n_states, n_actions = agent[0].in_features, agent[-1].out_features
    every_state = torch.eye(n_states)
    target = copy.deepcopy(agent)
    optimizer = torch.optim.Adam(agent.parameters(), lr=1e-3)
    # The learning rate falls along a cosine: the last steps fine-tune values that differ by about 0.01.
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=EPISODES, eta_min=5e-5)
    buffer = ReplayBuffer(EPISODES * env.spec.max_episode_steps)
    successes, losses = 0.0, []
    for episode in range(1, EPISODES + 1):
        epsilon = max(EPSILON_FLOOR, 1.0 - episode / (EPISODES / 2))
        with torch.no_grad():  # the Q-values of all 16 states, once per episode: one call instead of one per step
            q_table = agent(every_state).numpy()
        state, _ = env.reset()
        done = False
        while not done:
            action = int(rng.integers(n_actions)) if rng.random() < epsilon else int(q_table[state].argmax())
            next_state, reward, terminated, truncated, _ = env.step(action)
            # A hole or the goal ends the episode: nothing follows it. Running out of steps is no such end.
            buffer.add(state, action, reward, next_state, terminated)
            state = next_state
            done = terminated or truncated
            successes += reward
        for _ in range(UPDATES_PER_EPISODE):
            states, actions, rewards, next_states, ends = buffer.sample(rng, BATCH_SIZE)
            with torch.no_grad():
                targets = rewards + GAMMA * (1 - ends) * target(one_hot(next_states, n_states)).max(dim=1).values
            q_values = agent(one_hot(states, n_states)).gather(1, actions[:, None]).squeeze(1)
            loss = nn.functional.mse_loss(q_values, targets)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        scheduler.step()
        if episode % TARGET_EVERY == 0:
            target.load_state_dict(agent.state_dict())
        if episode % REPORT_EVERY == 0:
            report_epoch(
                episode // REPORT_EVERY,
                loss=np.mean(losses),
                epochs=EPISODES // REPORT_EVERY,
                success_rate=successes / REPORT_EVERY,
            )
            successes, losses = 0.0, []
    return agent


def act(agent, observation):
    """The action of highest Q-value: observation is the state's number, 0 to 15."""
    with torch.no_grad():
        return int(agent(one_hot(int(observation), agent[0].in_features)).argmax())
