"""DBpedia: the ontology (classes, subClassOf, labels) and the title -> classes type index."""

from .ontology import Ontology
from .types import TypeIndex, iter_redirect_triples

__all__ = ["Ontology", "TypeIndex", "iter_redirect_triples"]
