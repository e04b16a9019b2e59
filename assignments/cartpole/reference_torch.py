"""Reference solution (PyTorch): REINFORCE with normalised returns, eight episodes per update.

The grader's default act (argmax of the network's output, in eval mode) plays
the evaluation: no act is defined here.
"""

import numpy as np
import torch
from torch import nn

try:
    from grader_progress import report_epoch  # inside the grader: the curve and the live update count
except ImportError:  # elsewhere

    def report_epoch(epoch, loss=None, **values):
        pass


GAMMA = 0.99  # discount of future rewards
LEARNING_RATE = 0.01
EPISODES_PER_UPDATE = 8
MAX_UPDATES = 150  # at most 1,200 training episodes: cap the episodes, never race the clock
TEST_EVERY = 5  # updates between two tests of the greedy policy
TEST_EPISODES = 20
MAX_RETURN = 500  # CartPole-v1 ends every episode after 500 steps


def build_agent(observation_space, action_space):
    """A policy network: 4 observations in, one score (a logit) per action out."""
    return nn.Sequential(
        nn.Linear(observation_space.shape[0], 64),
        nn.Tanh(),
        nn.Linear(64, int(action_space.n)),
    )


def run_episode(policy, env, rng, greedy=False):
    """Play one episode; return its observations, actions and rewards.

    Training samples each action from the policy's probabilities (exploration);
    a test takes the most likely one, as the evaluation does.
    """
    observations, actions, rewards = [], [], []
    observation, _ = env.reset()
    done = False
    while not done:
        with torch.no_grad():  # one forward pass per step, no graph: the update recomputes it in one batch
            logits = policy(torch.as_tensor(observation))
        if greedy:
            action = int(logits.argmax())
        else:
            probabilities = torch.softmax(logits.double(), dim=0).numpy()
            action = int(rng.choice(len(probabilities), p=probabilities))
        observations.append(observation)
        actions.append(action)
        observation, reward, terminated, truncated, _ = env.step(action)
        rewards.append(float(reward))
        done = terminated or truncated
    return observations, actions, rewards


def discounted_returns(rewards):
    """The return from each step on: r_t + GAMMA r_(t+1) + GAMMA^2 r_(t+2) + ..."""
    returns = np.zeros(len(rewards), dtype=np.float32)
    running = 0.0
    for t in reversed(range(len(rewards))):
        running = rewards[t] + GAMMA * running
        returns[t] = running
    return returns


def train(agent, make_env):
    # NumPy is seeded by the grader (the assignment's seed): the environments' seeds are reproducible.
    seed = int(np.random.randint(2**31))
    env, test_env = make_env(seed=seed), make_env(seed=seed + 1)
    rng = np.random.default_rng(seed)
    optimizer = torch.optim.Adam(agent.parameters(), lr=LEARNING_RATE)
    perfect_tests = 0
    for update in range(1, MAX_UPDATES + 1):
        episodes = [run_episode(agent, env, rng) for _ in range(EPISODES_PER_UPDATE)]
        observations = torch.as_tensor(np.array([o for episode in episodes for o in episode[0]]))
        actions = torch.as_tensor([a for episode in episodes for a in episode[1]])
        returns = torch.as_tensor(np.concatenate([discounted_returns(episode[2]) for episode in episodes]))
        # Normalised returns: better-than-average actions become more likely, worse ones less.
        advantages = (returns - returns.mean()) / (returns.std() + 1e-8)
        log_probabilities = torch.log_softmax(agent(observations), dim=1)[torch.arange(len(actions)), actions]
        loss = -(log_probabilities * advantages).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        mean_return = np.mean([sum(episode[2]) for episode in episodes])
        report_epoch(update, loss=loss.item(), epochs=MAX_UPDATES, mean_return=mean_return)
        if update % TEST_EVERY == 0:
            tests = [sum(run_episode(agent, test_env, rng, greedy=True)[2]) for _ in range(TEST_EPISODES)]
            print(f"update {update}: training return {mean_return:.1f}, greedy test {np.mean(tests):.1f}")
            # Stop after two tests in a row where every episode lasted the full 500 steps.
            perfect_tests = perfect_tests + 1 if min(tests) >= MAX_RETURN else 0
            if perfect_tests == 2:
                break
    return agent
