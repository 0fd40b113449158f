from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.settings import schema
from app.settings.schema import Setting
from app.settings.store import SettingsStore


def _values(s: Setting) -> st.SearchStrategy[object]:
    if s.choices:
        return st.sampled_from(s.choice_values)
    if s.type is bool:
        return st.booleans()
    if s.type is int:
        low, high = int(s.minimum or 0), int(s.maximum or 10_000)
        step = int(s.step or 1)
        return st.integers(0, (high - low) // step).map(lambda n: low + n * step)
    if s.type is float:
        return st.floats(float(s.minimum or 0), float(s.maximum or 1), allow_nan=False)
    if s.check is not None:
        return st.just(s.default)
    return st.text(max_size=40)


changes = st.fixed_dictionaries({}, optional={s.key: _values(s) for s in schema.REGISTRY})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(changes)
def test_any_valid_changes_survive_save_and_load(values: dict[str, object]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "settings.json"
        store = SettingsStore(path)
        store.apply(values)
        store.save()
        again = SettingsStore(path)
        assert again.load() == []
        assert again.current == store.current
