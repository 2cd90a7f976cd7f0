"""Where training data come from: every source a training config may name, and their union.

The paired sources (:class:`FolderPairs`, :class:`DegradedImages`, :class:`PhantomPairs`, with
:class:`DataSet`) live in :mod:`geosr.data.paired_sources`; the unpaired, zero-shot and
isotropic ones in :mod:`geosr.data.families`, which builds on the paired ones. This module
only gathers them into :data:`DataSource`, so that neither of the two imports the other's
importer (no import cycle), and keeps every name importable from here as before.

Example
-------
>>> from pydantic import TypeAdapter
>>> src = TypeAdapter(DataSource).validate_python({"source": "phantom", "kind": "dentin",
...                                                "size_um": 12.8, "spacing_um": 0.1})
>>> type(src).__name__
'PhantomPairs'
"""

from __future__ import annotations

from typing import Annotated, Union

from pydantic import Field

from geosr.data.families import (AnisotropicStack, SingleImage, UnpairedFolders,
                                 UnpairedPhantoms)
from geosr.data.paired_sources import DataSet, DegradedImages, FolderPairs, PhantomPairs

__all__ = ["DataSet", "FolderPairs", "DegradedImages", "PhantomPairs", "DataSource"]

#: The data section of a training config: one of the sources, chosen by ``source``
#: (``unpaired``, ``unpaired_phantom``, ``single`` and ``anisotropic``: geosr.data.families).
DataSource = Annotated[Union[FolderPairs, DegradedImages, PhantomPairs, UnpairedFolders,
                             UnpairedPhantoms, SingleImage, AnisotropicStack],
                       Field(discriminator="source")]
