"""A compatibility fix for bioimageio.spec 0.5.12 (the version bioimageio.core 0.11 pins)
under pydantic ≥ 2.14.

Three of the spec's wrap-serializers call ``handler(value, info)``; pydantic's handler takes
an optional *index key* (int or str) as second argument, and pydantic-core now checks its type,
so serialising any model description with a file (weights, architecture, attachments) fails
with ``'index_key' is expected to be an integer or a string``. The fix drops the stray
argument: the code objects of those three functions are replaced by ones that call
``handler(value)`` — same names, same module globals, nothing else changes. It is applied
only when the bug is detected (:func:`needs_fix`), once, before geosr builds a description.
"""

from __future__ import annotations

from typing import Any

__all__ = ["apply", "needs_fix"]

_APPLIED = False


def _package_file_descr_serializer(value, handler, info):  # noqa: ANN001 (spec's signature)
    ret = handler(value)
    ret["source"] = _package(value.source, info, sha256=value.sha256)  # noqa: F821
    return ret


def _serialize(self, handler, info):  # noqa: ANN001
    _ = self._inner_node.model_dump(mode=info.mode)
    return handler(self)


def needs_fix() -> bool:
    """True when pydantic-core refuses a serialization info passed as the handler's index key
    (what the spec's serializers do)."""
    from pydantic_core import SchemaSerializer, core_schema

    def wrap(value: Any, handler: Any, info: Any) -> Any:
        return handler(value, info)

    schema = core_schema.any_schema(
        serialization=core_schema.wrap_serializer_function_ser_schema(wrap, info_arg=True))
    try:
        SchemaSerializer(schema).to_python(1)
    except Exception as err:  # pydantic-core raises a plain TypeError or its own error
        return "index_key" in str(err)
    return False


def apply() -> None:
    """Apply the fix once if the bug is present."""
    global _APPLIED
    if _APPLIED:
        return
    _APPLIED = True
    if not needs_fix():
        return
    from bioimageio.spec._internal import io_packaging, validated_string_with_inner_node
    from bioimageio.spec.model import v0_4

    io_packaging.package_file_descr_serializer.__code__ = _package_file_descr_serializer.__code__
    original = v0_4.package_weights
    source = original.__code__
    if "info" in source.co_varnames:
        original.__code__ = _patched_package_weights(original).__code__
    cls = validated_string_with_inner_node.ValidatedStringWithInnerNode
    func = cls.__dict__.get("_serialize")
    func = getattr(func, "wrapped", getattr(func, "__func__", func))
    if hasattr(func, "__code__"):
        func.__code__ = _serialize.__code__


def _patched_package_weights(original: Any) -> Any:
    """``v0_4.package_weights`` recompiled from its source with ``handler(value)``."""
    import inspect
    import textwrap

    text = textwrap.dedent(inspect.getsource(original))
    text = text.replace("info,  # pyright: ignore[reportArgumentType]  # taken from pydantic "
                        "docs\n", "\n")
    namespace: dict[str, Any] = {}
    exec(compile(text, "<bioimageio.spec.model.v0_4.package_weights (geosr fix)>", "exec"),
         original.__globals__, namespace)
    return namespace[original.__name__]
