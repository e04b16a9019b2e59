"""The harness protocol: what crosses the sandbox boundary, defined once for both sides.

The harness imports it inside the sandbox (as `harness.protocol`), grader
outside (as `grader.harness.protocol`); it imports nothing, so both can.

A run reads JOB_FILE, a JSON object with the JOB_* keys, and writes to its
output folder: one `<name>.npy` per output the kind asks for, REPORT_FILE (what
the run says of itself: phase, timings, versions, the training curve, an
error) and PROGRESS_FILE (the phase and epochs done, for the live status).
Everything it writes is untrusted: the grader checks outputs itself.
"""

JOB_FILE = "job.json"
REPORT_FILE = "report.json"
PROGRESS_FILE = "progress.json"

# Exit codes of the harness process.
EXIT_OK = 0
EXIT_SUBMISSION_ERROR = 3  # the student's code broke the contract or raised
EXIT_HARNESS_ERROR = 4  # the harness itself failed before the student's code ran: our fault

# Keys of the job file.
JOB_TASK = "task"  # the kind's name: which harness module drives the run
JOB_KIND = "kind"  # the kind's own parameters (grader.core.kinds.<kind>.job)
JOB_SUBMISSION_DIR = "submission_dir"
JOB_OUTPUT_DIR = "output_dir"
JOB_DATA = "data"  # public array name -> path
JOB_FRAMEWORKS = "frameworks"
JOB_TRAINING = "training"  # epochs, batch_size, learning_rate, seed

# Phases of a run, in order, as students read them ("failed during training").
PHASES = {
    "start": "start-up",
    "import": "loading your code",
    "build_model": "build_model",
    "build_agent": "build_agent",
    "train": "training",
    "predict": "prediction",
    "sample": "sampling",
    "generate": "generating sample text",
    "act": "evaluation (act)",
    "save": "saving the outputs",
}
FINAL_PHASE = "save"  # a run that exits 0 in any other phase ended early

# The live channel (grader.sandbox.channel): the run's end of an AF_UNIX socketpair, its fd number in
# this environment variable; frames are a 4-byte big-endian length, then UTF-8 JSON (an object).
CHANNEL_FD_ENV = "GRADER_CHANNEL_FD"
FRAME_HEADER_BYTES = 4
MAX_FRAME_BYTES = 64 * 1024

# The module a student's own training loop imports to report its epochs (see harness/progress.py).
PROGRESS_MODULE = "grader_progress"
CURVE_MAX_EPOCHS = 10_000  # epochs kept in the reported curve


def output_file(name: str) -> str:
    """The file an output array is written to."""
    return f"{name}.npy"


# The warm protocol (grader.sandbox.warm): a warm sandbox's harness imports its pool's framework,
# writes WARM_READY on the socket whose fd is in WARM_FD_ENV, then waits: WARM_GO starts the job,
# the end of the stream (the sandbox retired unused) exits. Pool -> the modules it imports ahead.
WARM_FD_ENV = "GRADER_WARM_FD"
WARM_READY = b"R"
WARM_GO = b"G"
WARM_POOLS = {
    "torch": ("torch", "torch.nn", "torch.optim", "torch.utils.data"),
    "keras": ("tensorflow", "keras"),
    "lightning": ("torch", "torch.nn", "torch.optim", "torch.utils.data", "lightning"),
    "none": (),
}
