"""A realistic B2B company generator with planted incentive effects (see docs/generator.md).

`write_company` streams a company to a canonical folder chunk by chunk; `generate_company` builds a small
one in memory. The planted truth that scores should recover is in `compscore.generator.planted`.
"""

from compscore.generator.build import GenerationSummary, generate_chunk, generate_company, write_company
from compscore.generator.company import GeneratorConfig

__all__ = ["GenerationSummary", "GeneratorConfig", "generate_chunk", "generate_company", "write_company"]
