"""Reference solution (Keras): REINFORCE written as weighted classification, eight episodes per update.

The policy gradient of REINFORCE is the gradient of a classification loss:
the cross-entropy of the action taken, weighted by how good it turned out to
be (its normalised return). So one `train_on_batch` with `sample_weight` is
one policy-gradient step. The grader's default act (argmax of the network's
output) plays the evaluation: no act is defined here.
"""

import keras
import numpy as np
from keras import layers

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
    keras.backend.clear_session()
    model = keras.Sequential(
        [
            keras.Input(shape=observation_space.shape),
            layers.Dense(64, activation="tanh"),
            layers.Dense(int(action_space.n)),  # action_space.n is a NumPy integer: Dense wants an int
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(LEARNING_RATE),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return model


def policy_logits(weights, observation):
    """The network's output computed with NumPy from its weights.

    Calling a Keras model costs about a millisecond, far more than a CartPole
    step; playing with a NumPy copy of the weights (taken once per update)
    makes an episode of 500 steps take milliseconds.
    """
    hidden_kernel, hidden_bias, output_kernel, output_bias = weights
    return np.tanh(observation @ hidden_kernel + hidden_bias) @ output_kernel + output_bias


def run_episode(weights, env, rng, greedy=False):
    """Play one episode; return its observations, actions and rewards.

    Training samples each action from the policy's probabilities (exploration);
    a test takes the most likely one, as the evaluation does.
    """
    observations, actions, rewards = [], [], []
    observation, _ = env.reset()
    done = False
    while not done:
        logits = policy_logits(weights, observation)
        if greedy:
            action = int(logits.argmax())
        else:
            probabilities = np.exp(logits - logits.max())
            action = int(rng.choice(len(probabilities), p=probabilities / probabilities.sum()))
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
    perfect_tests = 0
    for update in range(1, MAX_UPDATES + 1):
        weights = agent.get_weights()
        episodes = [run_episode(weights, env, rng) for _ in range(EPISODES_PER_UPDATE)]
        observations = np.array([o for episode in episodes for o in episode[0]], dtype="float32")
        actions = np.array([a for episode in episodes for a in episode[1]])
        returns = np.concatenate([discounted_returns(episode[2]) for episode in episodes])
        # Normalised returns: better-than-average actions become more likely, worse ones less.
        advantages = (returns - returns.mean()) / (returns.std() + 1e-8)
        loss = agent.train_on_batch(observations, actions, sample_weight=advantages)
        mean_return = np.mean([sum(episode[2]) for episode in episodes])
        report_epoch(update, loss=float(loss), epochs=MAX_UPDATES, mean_return=mean_return)
        if update % TEST_EVERY == 0:
            weights = agent.get_weights()
            tests = [sum(run_episode(weights, test_env, rng, greedy=True)[2]) for _ in range(TEST_EPISODES)]
            print(f"update {update}: training return {mean_return:.1f}, greedy test {np.mean(tests):.1f}")
            # Stop after two tests in a row where every episode lasted the full 500 steps.
            perfect_tests = perfect_tests + 1 if min(tests) >= MAX_RETURN else 0
            if perfect_tests == 2:
                break
    return agent
