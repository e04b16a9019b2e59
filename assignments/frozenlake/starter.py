"""FrozenLake: tabular Q-learning with the update left out. Write the update (or use a network)."""

import numpy as np

EPISODES = 20_000  # cap the episodes you train on, never the clock: see the statement's limits
GAMMA = 0.99  # discount: close to 1, the safe way across is long
ALPHA = 0.02  # step size of the update: small, because the slippery ice makes each target noisy


def build_agent(observation_space, action_space):
    """Return the agent: here a Q-table, Q[state, action], 16 states x 4 actions, all zero."""
    return np.zeros((int(observation_space.n), int(action_space.n)))


def train(agent, make_env):
    """Fill in the Q-table by playing on your own environment; return it."""
    env = make_env(seed=0)
    rng = np.random.default_rng(0)
    for episode in range(EPISODES):
        epsilon = max(0.1, 1.0 - episode / (EPISODES / 2))  # explore a lot at first, less later
        state, _ = env.reset()
        done = False
        while not done:
            if rng.random() < epsilon:
                action = int(rng.integers(agent.shape[1]))
            else:
                action = int(np.argmax(agent[state]))
            next_state, reward, terminated, truncated, _ = env.step(action)
            # TODO: the Q-learning update: move agent[state, action] by ALPHA of the way towards
            # reward + GAMMA * max(agent[next_state]) (just reward when `terminated`).
            state = next_state
            done = terminated or truncated
    return agent


def act(agent, observation):
    """The best action of the state: observation is the state's number, 0 to 15."""
    return int(np.argmax(agent[int(observation)]))
