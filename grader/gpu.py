"""The GPU probe: which NVIDIA GPUs this machine has (NVML, through nvidia-ml-py), and how a run uses one.

No driver, no library or no GPU all mean the same to callers: an empty list,
so a worker on such a machine serves only the `cpu` queue.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from pathlib import Path
from types import ModuleType
from typing import Any

log = logging.getLogger("grader.gpu")

SHARED_NODES = ("/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools")


@dataclasses.dataclass(frozen=True)
class Gpu:
    """One GPU as NVML names it."""

    index: int
    name: str
    uuid: str
    minor: int  # its device node is /dev/nvidia<minor>
    memory_total_bytes: int

    def device_nodes(self, dev: Path = Path("/dev")) -> tuple[str, ...]:
        """This GPU's node and the driver's shared nodes that exist; never another GPU's node."""
        wanted = (f"/dev/nvidia{self.minor}", *SHARED_NODES)
        return tuple(node for node in wanted if (dev / Path(node).name).exists())

    def sandbox_env(self) -> dict[str, str]:
        """Environment that shows a run only this GPU (by UUID: immune to enumeration order).

        TensorFlow takes GPU memory as it needs it rather than nearly all of it at its first
        use: the slot's warm sandboxes, and the job beside them, share this GPU.
        """
        return {
            "CUDA_VISIBLE_DEVICES": self.uuid,
            "NVIDIA_VISIBLE_DEVICES": self.uuid,
            "TF_FORCE_GPU_ALLOW_GROWTH": "true",
        }


def _load_nvml() -> ModuleType | None:
    try:
        import pynvml
    except ImportError:
        return None
    return pynvml


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def probe_gpus(nvml: Any = None) -> list[Gpu]:
    """List the machine's GPUs; [] when there is no NVML library, driver or GPU."""
    nvml = nvml or _load_nvml()
    if nvml is None:
        return []
    try:
        nvml.nvmlInit()
    except Exception as exc:  # NVMLError_LibraryNotFound, _DriverNotLoaded, ...: no usable GPU here
        log.info("no NVIDIA GPU: %s", exc)
        return []
    try:
        found = []
        for index in range(nvml.nvmlDeviceGetCount()):
            handle = nvml.nvmlDeviceGetHandleByIndex(index)
            found.append(
                Gpu(
                    index=index,
                    name=_text(nvml.nvmlDeviceGetName(handle)),
                    uuid=_text(nvml.nvmlDeviceGetUUID(handle)),
                    minor=int(nvml.nvmlDeviceGetMinorNumber(handle)),
                    memory_total_bytes=int(nvml.nvmlDeviceGetMemoryInfo(handle).total),
                )
            )
        return found
    finally:
        nvml.nvmlShutdown()


class GpuMonitor:
    """Sample one GPU's memory use and utilisation while a run goes on (a thread)."""

    def __init__(self, gpu: Gpu, nvml: Any = None, interval: float = 0.5):
        self.gpu, self.interval = gpu, interval
        self.nvml = nvml or _load_nvml()
        self.peak_memory_bytes = 0
        self.utilisation: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample_until_stopped, name="gpu-monitor", daemon=True)

    def __enter__(self) -> GpuMonitor:
        self.nvml.nvmlInit()
        self._handle = self.nvml.nvmlDeviceGetHandleByUUID(self.gpu.uuid)
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.nvml.nvmlShutdown()

    def _sample_until_stopped(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def _sample(self) -> None:
        try:
            used = int(self.nvml.nvmlDeviceGetMemoryInfo(self._handle).used)
            busy = int(self.nvml.nvmlDeviceGetUtilizationRates(self._handle).gpu)
        except Exception:  # a missed sample only makes the figures coarser
            log.debug("GPU sample failed", exc_info=True)
            return
        self.peak_memory_bytes = max(self.peak_memory_bytes, used)
        self.utilisation.append(busy)

    def summary(self) -> dict[str, Any]:
        """What the run's environment records: device, peak memory (device-wide), utilisation."""
        samples = self.utilisation or [0]
        return {
            "device": self.gpu.name,
            "uuid": self.gpu.uuid,
            "peak_memory_bytes": self.peak_memory_bytes,
            "utilisation_max_percent": max(samples),
            "utilisation_mean_percent": round(sum(samples) / len(samples), 1),
        }
