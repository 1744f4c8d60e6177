"""One base for the plain record classes (:class:`~ihc.panel.Panel`, :class:`~ihc.morphology.Morphology`,
:class:`~ihc.morphology.MitoticCount`): the ``__eq__`` and ``__repr__`` a dataclass would write,
over the fields named in ``__match_args__``. Plain classes rather than dataclasses because importing
:mod:`dataclasses` (and building the classes with it) is a measurable share of a single classify's start.

>>> class Point(Record):
...     __match_args__ = ("x", "y")
...     def __init__(self, x, y):
...         self.x, self.y = x, y
>>> Point(1, 2), Point(1, 2) == Point(1, 2)
(Point(x=1, y=2), True)
"""

__all__ = ["Record"]


class Record:
    """Equality and repr over the fields of ``__match_args__``."""

    __match_args__ = ()

    def _fields(self):
        return tuple(getattr(self, k) for k in self.__match_args__)

    def __eq__(self, other):
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._fields() == other._fields()

    def __repr__(self):
        return f"{self.__class__.__qualname__}(" + ", ".join(
            f"{k}={v!r}" for k, v in zip(self.__match_args__, self._fields())) + ")"
