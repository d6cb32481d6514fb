"""The mapping YAML: shipped defaults parse, and a broken copy is rejected naming the file, line and key."""

from __future__ import annotations

import pytest

from compscore.adapters.errors import MappingError
from compscore.adapters.mapping import MAPPINGS_DIR, load_mapping, parse_mapping


@pytest.mark.parametrize("kind", ["salesforce", "hubspot", "maven"])
def test_shipped_mappings_parse(kind):
    mapping = load_mapping(MAPPINGS_DIR / f"{kind}.yaml")
    assert mapping.source == kind
    assert "deals" in mapping.tables


def test_salesforce_type_map_covers_the_default_picklist_and_renewals():
    rule = load_mapping(MAPPINGS_DIR / "salesforce.yaml").tables["deals"].rule("deal_type")
    assert rule.value_map["new customer"] == "new_business"
    assert rule.value_map["existing customer - upgrade"] == "expansion"
    assert rule.value_map["existing customer - replacement"] == "renewal"
    assert rule.value_map["existing customer - downgrade"] == "renewal"
    assert rule.value_map["renewal"] == "renewal"
    assert rule.value_map["existing customer - renewal"] == "renewal"


def test_bad_mapping_names_line_and_key():
    text = """source: x
files: {deals: [d.csv]}
tables:
  deals:
    from: deals
    columns:
      deal_id: Id
      deal_type: {column: Type, type: category, map: {Renewal: renewed}}
      stagee: StageName
"""
    with pytest.raises(MappingError) as err:
        parse_mapping(text, "my.yaml")
    message = str(err.value)
    assert "my.yaml:8: tables.deals.columns.deal_type.map.Renewal: 'renewed' is not one of" in message
    assert "my.yaml:9: tables.deals.columns.stagee: deals has no column 'stagee'" in message
