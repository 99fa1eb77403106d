"""huimin.rules — program rules as versioned data (no Django).

Program documents (YAML, shipped in ``programs/``) are validated at load, their criteria and
amounts written in a restricted expression language, evaluated for one subject in Python or
for a whole registry as SQL on SQLite, PostgreSQL, DuckDB or Spark — with the same results.
"""

from huimin.rules.catalog import Catalog, Component, Program, load_programs
from huimin.rules.document import ProgramDef, ReviewLevel
from huimin.rules.errors import (
    DocumentError,
    ExpressionError,
    InputError,
    ProgramNotFound,
    RulesError,
)
from huimin.rules.evaluate import CriterionResult, Evaluation

__all__ = [
    "Catalog",
    "Component",
    "CriterionResult",
    "DocumentError",
    "Evaluation",
    "ExpressionError",
    "InputError",
    "Program",
    "ProgramDef",
    "ProgramNotFound",
    "ReviewLevel",
    "RulesError",
    "load_programs",
]
