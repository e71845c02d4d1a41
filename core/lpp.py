"""Cayenne LPP codec: the public module.

Re-exports :func:`decode`, :func:`decode_many`, :func:`encode` and :data:`TYPES` from
the compiled ``hromada._lpp`` when it is built, else from the pure twin
``hromada._lpp_py`` (``HROMADA_NO_EXTENSIONS=1`` forces the twin).  The format, the
type table and where published sources disagree are described in
:mod:`hromada._lpp_py`.
"""

from hromada import compiled as _compiled

_impl = _compiled.load("lpp")

decode = _impl.decode
decode_many = _impl.decode_many
encode = _impl.encode
TYPES = _impl.TYPES
LppType = _impl.LppType

#: "compiled" or "pure": which implementation this module uses.
IMPLEMENTATION = _compiled.modules["lpp"]

__all__ = ["IMPLEMENTATION", "TYPES", "LppType", "decode", "decode_many", "encode"]
