"""The live channel: a driver on the trusted side talks to a sandboxed run, which cannot make it hang.

Each run must end quickly as the submission's failure with a message that says
what the run did, and leave nothing behind (the `sandbox` fixture checks).
"""

from __future__ import annotations

import pytest

from grader.core.errors import SandboxError
from grader.sandbox import Termination
from grader.sandbox.channel import Channel, ChannelFailure, is_number

STEP_SECONDS = 1.0


class Doubler:
    """A driver that asks for the double of 0..4 and checks each answer."""

    def __init__(self, steps: int = 5):
        self.steps = steps
        self.answers: list[float] = []

    def __call__(self, channel: Channel) -> None:
        for n in range(self.steps):
            channel.send({"n": n})
            answer = channel.receive(STEP_SECONDS)
            if answer.get("n") != n or not is_number(answer.get("double")):
                raise ChannelFailure("Your code answered out of turn.", f"expected n={n}, got {answer!r}")
            self.answers.append(answer["double"])


def test_a_run_answers_every_step_and_exits_when_the_channel_closes(sandbox):
    driver = Doubler()
    result, _ = sandbox.run("channel_peer", "answer", driver=driver)
    assert driver.answers == [0, 2, 4, 6, 8]
    assert result.channel_failure is None
    assert (result.termination, result.exit_code) == (Termination.EXITED, 0)


@pytest.mark.parametrize(
    ("mode", "student_message"),
    [
        ("garbage", "Your code sent grader something that is not a message of the channel's protocol."),
        ("nan", "Your code sent grader something that is not a message of the channel's protocol."),
        ("huge", "Your code sent grader a message of 1,073,741,824 bytes; at most 65,536 are accepted."),
        ("silent", "Your code did not answer within the 1 s limit for one step."),
        ("close", "Your code closed grader's channel before the evaluation ended (or the run ended)."),
    ],
)
def test_a_run_that_breaks_the_channel_is_stopped_at_once(sandbox, mode, student_message):
    limits = sandbox.limits(wall_seconds=30)
    result, took = sandbox.run("channel_peer", mode, driver=Doubler(), limits=limits)
    assert result.channel_failure is not None
    assert result.channel_failure.student_message == student_message
    assert result.termination is Termination.STOPPED  # not the 30 s wall limit
    assert took < 15


def test_a_run_whose_parent_exits_leaves_no_child_holding_the_channel(sandbox):
    result, took = sandbox.run("channel_peer", "fork_exit", driver=Doubler(), limits=sandbox.limits(wall_seconds=30))
    assert result.channel_failure is not None
    assert "closed grader's channel" in result.channel_failure.student_message
    assert took < 15


def test_the_staff_detail_says_what_arrived(sandbox):
    result, _ = sandbox.run("channel_peer", "nan", driver=Doubler(), limits=sandbox.limits(wall_seconds=30))
    assert "NaN is not a number grader accepts" in result.channel_failure.staff_detail


def test_a_driver_that_breaks_is_our_failure_and_the_run_is_still_cleaned_up(sandbox):
    def broken(channel: Channel) -> None:
        raise RuntimeError("the environment failed to reset")

    with pytest.raises(SandboxError) as caught:
        sandbox.run("channel_peer", "silent", driver=broken, limits=sandbox.limits(wall_seconds=30))
    assert "the channel driver failed: RuntimeError" in caught.value.staff_detail
