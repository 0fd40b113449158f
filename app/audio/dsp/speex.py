"""SpeexDSP backend: a small ctypes binding to the system ``libspeexdsp.so.1``.

Echo canceller (``speex_echo_*``) plus the preprocessor (``speex_preprocess_*``: denoise, AGC,
residual echo suppression linked to the echo state, speech probability). The PyPI ``speexdsp``
package exposes only the echo canceller and needs swig, hence this binding. Ctl numbers come from
``speex_echo.h`` / ``speex_preprocess.h``. The preprocessor adds one frame (10 ms) of delay.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

import numpy as np

from app.audio.dsp.base import (
    DspBackend,
    DspFrame,
    DspUnavailableError,
    Frame,
    HighPass,
    to_float32,
    to_int16,
)
from app.audio.dspconfig import DspConfig

log = logging.getLogger("app.audio.dsp")

SPEEX_ECHO_SET_SAMPLING_RATE = 24
PP_SET_DENOISE = 0
PP_SET_AGC = 2
PP_SET_AGC_LEVEL = 6
PP_SET_NOISE_SUPPRESS = 18
PP_SET_ECHO_SUPPRESS = 20
PP_SET_ECHO_SUPPRESS_ACTIVE = 22
PP_SET_ECHO_STATE = 24
PP_SET_AGC_MAX_GAIN = 30
PP_GET_PROB = 45

# ns_level 0..3 -> maximum noise attenuation in dB (Speex default is -15).
NS_LEVEL_DB = (-10, -15, -25, -35)
INSTALL_HINT = "install it with: sudo apt-get install libspeexdsp1"

_lib: ctypes.CDLL | None = None


def load_library() -> ctypes.CDLL:
    """Load ``libspeexdsp`` once and declare the entry points' C types.

    Raises:
        DspUnavailableError: the shared library is not installed.
    """
    global _lib
    if _lib is not None:
        return _lib
    name = ctypes.util.find_library("speexdsp") or "libspeexdsp.so.1"
    try:
        lib = ctypes.CDLL(name)
    except OSError as exc:
        raise DspUnavailableError(
            f"The SpeexDSP library (libspeexdsp.so.1) was not found; {INSTALL_HINT}"
        ) from exc
    vp, ci, i16p = ctypes.c_void_p, ctypes.c_int, ctypes.POINTER(ctypes.c_int16)
    lib.speex_echo_state_init.argtypes = [ci, ci]
    lib.speex_echo_state_init.restype = vp
    lib.speex_echo_ctl.argtypes = [vp, ci, vp]
    lib.speex_echo_ctl.restype = ci
    lib.speex_echo_cancellation.argtypes = [vp, i16p, i16p, i16p]
    lib.speex_echo_cancellation.restype = None
    lib.speex_echo_state_reset.argtypes = [vp]
    lib.speex_echo_state_reset.restype = None
    lib.speex_echo_state_destroy.argtypes = [vp]
    lib.speex_echo_state_destroy.restype = None
    lib.speex_preprocess_state_init.argtypes = [ci, ci]
    lib.speex_preprocess_state_init.restype = vp
    lib.speex_preprocess_ctl.argtypes = [vp, ci, vp]
    lib.speex_preprocess_ctl.restype = ci
    lib.speex_preprocess_run.argtypes = [vp, i16p]
    lib.speex_preprocess_run.restype = ci
    lib.speex_preprocess_state_destroy.argtypes = [vp]
    lib.speex_preprocess_state_destroy.restype = None
    _lib = lib
    return lib


class SpeexBackend(DspBackend):
    """SpeexDSP echo canceller + preprocessor on 10 ms int16 frames.

    Args:
        config: which stages run and their settings.
        rate: sample rate (any rate SpeexDSP accepts; 16000 in the pipeline).
    """

    name = "speex"

    def __init__(self, config: DspConfig, rate: int) -> None:
        super().__init__(rate)
        lib = load_library()
        self._lib = lib
        n = self.frame_size
        self._near = np.zeros(n, dtype=np.int16)
        self._far = np.zeros(n, dtype=np.int16)
        self._out = np.zeros(n, dtype=np.int16)
        self._out_f = np.zeros(n, dtype=np.float32)
        self._near_p = self._near.ctypes.data_as(ctypes.POINTER(ctypes.c_int16))
        self._far_p = self._far.ctypes.data_as(ctypes.POINTER(ctypes.c_int16))
        self._out_p = self._out.ctypes.data_as(ctypes.POINTER(ctypes.c_int16))
        self._prob = ctypes.c_int(0)
        self._echo: int | None = None
        self._pp: int | None = None
        self._use_pp = config.ns or config.agc or config.aec
        self._hp = HighPass(rate, 80.0, n) if config.high_pass else None
        if config.aec:
            tail = max(n, rate * config.aec_tail_ms // 1000)
            self._echo = lib.speex_echo_state_init(n, tail)
            self._ctl_echo(SPEEX_ECHO_SET_SAMPLING_RATE, ctypes.c_int(rate))
        if self._use_pp:
            self._pp = lib.speex_preprocess_state_init(n, rate)
            self._ctl_pp(PP_SET_DENOISE, ctypes.c_int(1 if config.ns else 0))
            self._ctl_pp(PP_SET_NOISE_SUPPRESS, ctypes.c_int(NS_LEVEL_DB[config.ns_level]))
            self._ctl_pp(PP_SET_AGC, ctypes.c_int(1 if config.agc else 0))
            level = 32768.0 * 10.0 ** (config.agc_target_dbfs / 20.0)
            self._ctl_pp(PP_SET_AGC_LEVEL, ctypes.c_float(level))
            self._ctl_pp(PP_SET_AGC_MAX_GAIN, ctypes.c_int(round(config.agc_max_gain_db)))
            if self._echo is not None:
                # Residual echo suppression: the preprocessor reads the echo canceller's state.
                lib.speex_preprocess_ctl(self._pp, PP_SET_ECHO_STATE, self._echo)
                self._ctl_pp(PP_SET_ECHO_SUPPRESS, ctypes.c_int(-40))
                self._ctl_pp(PP_SET_ECHO_SUPPRESS_ACTIVE, ctypes.c_int(-15))
            self.latency_samples = self.detect_latency_samples = n

    def _ctl_echo(self, request: int, value: ctypes.c_int) -> None:
        """Set one echo-canceller parameter."""
        self._lib.speex_echo_ctl(self._echo, request, ctypes.byref(value))

    def _ctl_pp(self, request: int, value: ctypes.c_int | ctypes.c_float) -> None:
        """Set one preprocessor parameter."""
        self._lib.speex_preprocess_ctl(self._pp, request, ctypes.byref(value))

    def process(self, near: Frame, far: Frame) -> DspFrame:
        """Echo-cancel, then denoise / AGC / residual-echo-suppress one frame."""
        if self._echo is None and self._pp is None:
            out = self._hp.process(near) if self._hp is not None else near.astype(np.float32)
            return DspFrame(out, out)
        to_int16(self._hp.process(near) if self._hp is not None else near, self._near)
        if self._echo is not None:
            to_int16(far, self._far)
            self._lib.speex_echo_cancellation(self._echo, self._near_p, self._far_p, self._out_p)
        else:
            self._out[:] = self._near
        if self._pp is not None:
            self._lib.speex_preprocess_run(self._pp, self._out_p)
            self._lib.speex_preprocess_ctl(self._pp, PP_GET_PROB, ctypes.byref(self._prob))
        to_float32(self._out, self._out_f)
        return DspFrame(self._out_f, self._out_f)

    @property
    def speech_probability(self) -> float | None:
        """The preprocessor's speech probability (0…1) for the last frame."""
        return self._prob.value / 100.0 if self._pp is not None else None

    def reset(self) -> None:
        """Forget the learned echo path (e.g. after a device change)."""
        if self._echo is not None:
            self._lib.speex_echo_state_reset(self._echo)

    def close(self) -> None:
        """Destroy the native states (idempotent)."""
        if self._pp is not None:
            self._lib.speex_preprocess_state_destroy(self._pp)
            self._pp = None
        if self._echo is not None:
            self._lib.speex_echo_state_destroy(self._echo)
            self._echo = None

    def __del__(self) -> None:
        if "_pp" in self.__dict__ and "_echo" in self.__dict__:
            self.close()
