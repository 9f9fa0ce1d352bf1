"""What a reproduction was made with, in full (docs/decisions.md, "Same seed, same numbers"): the
installed packages, the CPU and its instruction sets, the instruction set oneDNN dispatches to and
the convolution kernels it picks in fp32 and bf16, threads and the torch build. Recorded with every
``basnet reproduce`` invocation in ``invocations.json``; the report's "How it was made" summarises
it beside the lock file's package set.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import re
import site
import subprocess
import sys
from pathlib import Path

import torch

# The CPU flags that decide which kernels oneDNN and ATen choose.
ISA_FLAGS = re.compile(r"^(sse4_2|fma|avx\w*|amx\w*|f16c)$")
# The variables that change the kernels or the threads of a run.
ENVIRONMENT_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA",
                         "ATEN_CPU_CAPABILITY", "ONEDNN_DEFAULT_FPMATH_MODE")  # fmt: skip
# A 3×3 convolution in fp32 and in bf16 autocast, run with oneDNN's verbose log on: its "isa:" line
# and the implementation each convolution got.
_PROBE = """
import torch
conv, x = torch.nn.Conv2d(64, 64, 3, padding=1), torch.randn(2, 64, 32, 32)
with torch.no_grad():
    conv(x)
    print("BASNET_PROBE bf16", flush=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        conv(x)
"""


def environment_record() -> dict[str, object]:
    """Packages, CPU, oneDNN, threads and torch build of this process's environment (JSON-ready)."""
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu_model": cpu_model(),
        "cpu_isa_flags": sorted(flag for flag in cpu_flags() if ISA_FLAGS.match(flag)),
        "aten_cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "onednn": onednn_dispatch(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "environment_variables": {
            name: os.environ[name] for name in ENVIRONMENT_VARIABLES if name in os.environ
        },
        "torch_build": {
            "version": torch.__version__,
            "git": torch.version.git_version,
            "cuda": torch.version.cuda,
            "debug": torch.version.debug,
        },
        "packages": installed_packages(),
    }


def installed_packages() -> dict[str, str]:
    """Every distribution installed in the environment's site-packages, ``{normalised name:
    version}``, sorted by name. Only there: setuptools puts its vendored packages on ``sys.path``
    once something imports it, and they are not installed packages."""
    packages = {}
    for distribution in importlib.metadata.distributions(path=site.getsitepackages()):
        name = distribution.metadata["Name"]
        if name:
            packages[normalised_name(name)] = distribution.version
    return dict(sorted(packages.items()))


def normalised_name(name: str) -> str:
    """PEP 503's normal form: ``Typing_Extensions`` → ``typing-extensions``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``), or the platform's processor string."""
    return _cpuinfo_field("model name") or platform.processor() or "unknown"


def cpu_flags() -> list[str]:
    return (_cpuinfo_field("flags") or "").split()


def _cpuinfo_field(name: str) -> str | None:
    """The first processor's ``name`` in ``/proc/cpuinfo`` (None where there is none)."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return None
    return next((line.split(":", 1)[1].strip() for line in lines if line.startswith(name)), None)


def onednn_dispatch(*, timeout: float = 120) -> dict[str, object]:
    """oneDNN's version, the ISA it dispatches to and the kernels a 3×3 convolution gets in fp32
    and bf16, read from its verbose log in a child process (this process's settings untouched)."""
    environment = {**os.environ, "ONEDNN_VERBOSE": "1", "DNNL_VERBOSE": "1"}
    try:
        completed = subprocess.run([sys.executable, "-c", _PROBE], env=environment, capture_output=True,
                                   text=True, timeout=timeout, check=True)  # fmt: skip
    except (OSError, subprocess.SubprocessError) as error:
        return {"error": f"{type(error).__name__}: {error}"[:300]}
    return parse_onednn_log(completed.stdout)


def parse_onednn_log(log: str) -> dict[str, object]:
    """``version``, ``isa`` and per precision the convolution implementations of a verbose log."""
    result: dict[str, object] = {"version": None, "isa": None, "convolution": {"fp32": [], "bf16": []}}
    precision = "fp32"
    for line in log.splitlines():
        if line.startswith("BASNET_PROBE bf16"):
            precision = "bf16"
        fields = line.split(",")
        if not fields or not fields[0].startswith(("onednn_verbose", "dnnl_verbose")):
            continue
        version = next((field for field in fields if field.startswith("oneDNN v")), None)
        if version:
            result["version"] = version.split(" (")[0]
        isa = next((field.removeprefix("isa:") for field in fields if field.startswith("isa:")), None)
        if isa:
            result["isa"] = isa
        if "exec" in fields and "convolution" in fields:
            implementation = fields[fields.index("convolution") + 1]
            kernels = result["convolution"][precision]  # type: ignore[index]
            if implementation not in kernels:
                kernels.append(implementation)
    return result


# Installed by the venv or the project itself, not by the lock.
NOT_LOCKED = ("basnet-lib", "pip", "setuptools", "wheel")


def locked_packages(lock: str | Path) -> dict[str, str]:
    """``{normalised name: version}`` of a hashed requirements lock (``requirements-lock.txt``)."""
    pins = re.findall(
        r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", Path(lock).read_text(), flags=re.MULTILINE
    )
    if not pins:
        raise ValueError(f"{lock}: no 'name==version' lines; expected a lock written by `make lock`")
    return dict(sorted((normalised_name(name), version) for name, version in pins))


def package_differences(installed: dict[str, str], locked: dict[str, str]) -> list[str]:
    """One line per package whose installed version is not the lock's, or that only one side has
    (the project, pip, setuptools and wheel aside); [] when the environment is the lock's."""
    lines = []
    for name in sorted((set(installed) | set(locked)) - set(NOT_LOCKED)):
        have, want = installed.get(name), locked.get(name)
        if have != want:
            lines.append(f"{name}: installed {have or 'nothing'}, lock {want or 'nothing'}")
    return lines


def environment_markdown(record: dict, *, lock: str | Path) -> str:
    """The report's summary of an invocation's environment: CPU, ISA, kernels, threads, torch build
    and how its packages compare with the lock."""
    onednn = record.get("onednn", {})
    kernels = onednn.get("convolution", {})
    differences = package_differences(record.get("packages", {}), locked_packages(lock))
    packages = (
        f"all {len(record.get('packages', {}))} installed packages at the versions of `{Path(lock).name}`"
        if not differences
        else f"{len(differences)} packages differ from `{Path(lock).name}`: " + "; ".join(differences[:10])
    )
    variables = ", ".join(f"{key}={value}" for key, value in record.get("environment_variables", {}).items())
    return "\n".join(
        [
            f"- CPU: {record.get('cpu_model')}, {record.get('cpu_count')} logical cores; ISA flags "
            f"{' '.join(record.get('cpu_isa_flags', [])) or 'unknown'}.",
            f"- Kernels: ATen {record.get('aten_cpu_capability')}; {onednn.get('version') or 'oneDNN'} "
            f"dispatching to {onednn.get('isa') or 'unknown'}; a 3×3 convolution runs "
            f"{', '.join(kernels.get('fp32', [])) or '—'} in fp32 and {', '.join(kernels.get('bf16', [])) or '—'} in bf16.",
            f"- Threads: torch {record.get('torch_threads')}" + (f"; {variables}" if variables else "") + ".",
            f"- torch build {record.get('torch_build', {}).get('version')} "
            f"(git {str(record.get('torch_build', {}).get('git'))[:12]}), Python {record.get('python')}.",
            f"- Packages: {packages}.",
        ]
    )
