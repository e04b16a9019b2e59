"""CartPole: a policy network that has not learned anything yet. Make train() improve it."""

import keras
import numpy as np
from keras import layers

MAX_EPISODES = 1000  # cap the episodes you train on, never the clock: see the statement's limits


def build_agent(observation_space, action_space):
    """Return a network: 4 observations in, one score per action (2) out."""
    keras.backend.clear_session()
    return keras.Sequential(
        [
            keras.Input(shape=observation_space.shape),
            layers.Dense(64, activation="tanh"),
            layers.Dense(int(action_space.n)),  # action_space.n is a NumPy integer: Dense wants an int
        ]
    )


def run_episode(agent, env):
    """Play one episode with the agent's current policy; return its observations, actions and rewards."""
    observations, actions, rewards = [], [], []
    observation, _ = env.reset()
    done = False
    while not done:
        scores = np.asarray(agent(observation[None], training=False))[0]
        action = int(np.argmax(scores))  # TODO: sample from the softmax of the scores while training (explore)
        observations.append(observation)
        actions.append(action)
        observation, reward, terminated, truncated, _ = env.step(action)
        rewards.append(float(reward))
        done = terminated or truncated
    return observations, actions, rewards


def train(agent, make_env):
    """Train the agent on your own environments; return it."""
    env = make_env(seed=0)
    for episode in range(10):  # TODO: up to MAX_EPISODES
        observations, actions, rewards = run_episode(agent, env)
        print(f"episode {episode + 1}: return {sum(rewards):.0f}")
        # TODO: learn from the episode, e.g. REINFORCE: make the actions taken more likely in
        # proportion to the (discounted, normalised) return that followed them.
    return agent


# Optional: act(agent, observation) -> action. Without it, grader takes the argmax of the network's output.
