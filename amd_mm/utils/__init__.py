"""The bottom floor: helpers every other package may import, importing no other amd_mm
package (only :mod:`amd_mm.compat`, and MMEngine / torch).

* :mod:`.errors` -- the project's user-facing error base (:class:`UserError`) and which
  errors the tools print as one sentence;
* :mod:`.config` -- reading a config as the tools do (``--cfg-options`` checked, the
  work_dir settled);
* :mod:`.runtime` -- MMEngine runtime helpers (the model inside a wrapper);
* :mod:`.clips` -- clip tensors without their frames' order (temporal controls).
"""
