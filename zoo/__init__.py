"""archzoo's catalog: cited specs of landmark language models, validated and queryable."""

from zoo.catalog import BenchmarkRow, Catalog, CatalogError, build_catalog, default_path
from zoo.schema import Architecture, ModelRecord
from zoo.specfile import SpecError, load_spec, parse_record

__all__ = [
    "Architecture",
    "BenchmarkRow",
    "Catalog",
    "CatalogError",
    "ModelRecord",
    "SpecError",
    "build_catalog",
    "default_path",
    "load_spec",
    "parse_record",
]
