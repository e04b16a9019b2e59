"""The GPU probe against a fake NVML module (this machine may have no GPU)."""

from __future__ import annotations

import types

from grader.gpu import Gpu, GpuMonitor, probe_gpus


class FakeNvml:
    """Just enough of pynvml: `devices` is a list of (name, uuid, minor, total, used, util)."""

    def __init__(self, devices, fail_init: Exception | None = None):
        self.devices, self.fail_init, self.inits, self.shutdowns = devices, fail_init, 0, 0

    def nvmlInit(self):
        if self.fail_init:
            raise self.fail_init
        self.inits += 1

    def nvmlShutdown(self):
        self.shutdowns += 1

    def nvmlDeviceGetCount(self):
        return len(self.devices)

    def nvmlDeviceGetHandleByIndex(self, index):
        return index

    def nvmlDeviceGetHandleByUUID(self, uuid):
        return [d[1] for d in self.devices].index(uuid)

    def nvmlDeviceGetName(self, handle):
        return self.devices[handle][0].encode()  # older bindings return bytes

    def nvmlDeviceGetUUID(self, handle):
        return self.devices[handle][1]

    def nvmlDeviceGetMinorNumber(self, handle):
        return self.devices[handle][2]

    def nvmlDeviceGetMemoryInfo(self, handle):
        d = self.devices[handle]
        return types.SimpleNamespace(total=d[3], used=d[4])

    def nvmlDeviceGetUtilizationRates(self, handle):
        return types.SimpleNamespace(gpu=self.devices[handle][5], memory=0)


H100 = ("NVIDIA H100", "GPU-aaaa", 0, 80 * 1024**3, 1024**3, 40)
A100 = ("NVIDIA A100", "GPU-bbbb", 3, 40 * 1024**3, 0, 0)


def test_probe_lists_every_gpu_and_shuts_nvml_down():
    nvml = FakeNvml([H100, A100])
    gpus = probe_gpus(nvml)
    assert gpus == [
        Gpu(0, "NVIDIA H100", "GPU-aaaa", 0, 80 * 1024**3),
        Gpu(1, "NVIDIA A100", "GPU-bbbb", 3, 40 * 1024**3),
    ]
    assert nvml.shutdowns == nvml.inits == 1


def test_no_driver_means_no_gpu():
    assert probe_gpus(FakeNvml([], fail_init=RuntimeError("NVML Shared Library Not Found"))) == []
    assert probe_gpus(FakeNvml([])) == []


def test_a_run_sees_only_its_gpu(tmp_path):
    for name in ("nvidia0", "nvidia3", "nvidiactl", "nvidia-uvm"):
        (tmp_path / name).touch()
    gpu = Gpu(1, "NVIDIA A100", "GPU-bbbb", 3, 0)
    assert gpu.device_nodes(tmp_path) == ("/dev/nvidia3", "/dev/nvidiactl", "/dev/nvidia-uvm")
    assert gpu.sandbox_env()["CUDA_VISIBLE_DEVICES"] == "GPU-bbbb"
    # warm sandboxes share the slot's GPU with its job: TensorFlow must not take nearly all of it at once
    assert gpu.sandbox_env()["TF_FORCE_GPU_ALLOW_GROWTH"] == "true"


def test_the_monitor_records_peak_memory_and_utilisation():
    nvml = FakeNvml([H100])
    gpu = probe_gpus(nvml)[0]
    with GpuMonitor(gpu, nvml, interval=0.01) as monitor:
        nvml.devices[0] = (*H100[:4], 3 * 1024**3, 90)
        import time

        time.sleep(0.05)
    summary = monitor.summary()
    assert summary["device"] == "NVIDIA H100" and summary["peak_memory_bytes"] == 3 * 1024**3
    assert summary["utilisation_max_percent"] == 90


def test_this_machine_probes_without_error():
    assert isinstance(probe_gpus(), list)


def test_an_evaluation_on_a_gpu_binds_only_its_nodes_and_records_its_use(tmp_path, monkeypatch):
    from grader.assignments import load_assignment
    from grader.config import PROJECT_ROOT, load_settings
    from grader.sandbox.spec import RunResult, Termination
    from grader.services.evaluation import Evaluator

    fixtures = PROJECT_ROOT / "tests" / "fixtures"
    settings = load_settings(
        {"GRADER_ASSIGNMENTS_DIR": str(fixtures / "assignments"), "GRADER_RUBRICS_DIR": str(fixtures / "rubrics")}
    )
    nvml = FakeNvml([H100])
    monkeypatch.setattr("grader.gpu._load_nvml", lambda: nvml)
    specs = []

    class CapturingRunner:
        def visible_path(self, mount):
            return mount.target

        def run(self, spec, driver=None):
            specs.append(spec)
            return RunResult(Termination.EXITED, 1, None, "", 0, 0.1, 0.1, 0)

    gpu = Gpu(0, "NVIDIA H100", "GPU-aaaa", 0, 80 * 1024**3)
    evaluator = Evaluator(CapturingRunner(), settings.cache_dir, tmp_path, gpu=gpu)
    evaluation = evaluator.evaluate("m.py", b"x = 1\n", load_assignment("quick-digits", settings))
    [spec] = specs
    assert spec.env["CUDA_VISIBLE_DEVICES"] == "GPU-aaaa"
    assert all(
        node in ("/dev/nvidia0", "/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools") for node in spec.devices
    )
    assert evaluation.environment["gpu"]["device"] == "NVIDIA H100"
    assert evaluation.environment["gpu"]["peak_memory_bytes"] == 1024**3
