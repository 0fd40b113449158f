import threading
from pathlib import Path

import pytest

from app.session.memory import MAX_FACT_CHARS, Memory


@pytest.fixture
def memory(tmp_path: Path) -> Memory:
    mem = Memory(tmp_path / "data" / "memory.sqlite3")
    yield mem  # type: ignore[misc]
    mem.close()


def test_remember_persists_across_instances(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "memory.sqlite3"
    first = Memory(path, clock=lambda: 1234.5)
    fact = first.remember("  My sister is called   Ana. ")
    first.close()
    second = Memory(path)
    assert second.facts() == [fact]
    assert fact.text == "My sister is called Ana." and fact.created_at == 1234.5
    second.close()


def test_remember_deduplicates_ignoring_case_and_punctuation(memory: Memory) -> None:
    a = memory.remember("My sister is called Ana.")
    b = memory.remember("my sister is called ana")
    assert a == b and len(memory.facts()) == 1


@pytest.mark.parametrize("text", ["", "   ", "...", "x" * (MAX_FACT_CHARS + 1)])
def test_remember_rejects_empty_and_huge(memory: Memory, text: str) -> None:
    with pytest.raises(ValueError):
        memory.remember(text)


def test_recall_ranks_by_shared_keywords(memory: Memory) -> None:
    ana = memory.remember("My sister is called Ana")
    car = memory.remember("My car is a blue Volvo")
    bday = memory.remember("Ana's birthday is on May 3")
    assert memory.recall("what is my sister called?") == [ana]
    assert memory.recall("Ana birthday")[0] == bday
    assert set(memory.recall("ana")) == {ana, bday}
    assert memory.recall("volvo") == [car]
    assert memory.recall("") == [ana, car, bday]
    assert memory.recall("giraffe") == []


def test_forget_by_id_query_and_all(memory: Memory) -> None:
    ana = memory.remember("My sister is called Ana")
    memory.remember("My car is a blue Volvo")
    memory.remember("My other car is red")
    assert memory.forget(ana.fact_id) == 1
    assert memory.forget(str(ana.fact_id)) == 0
    assert memory.forget("blue car") == 1
    assert memory.forget("giraffe") == 0
    assert memory.forget("my the") == 0  # only filler words: nothing matches all of them
    assert memory.forget("everything") == 1
    assert memory.facts() == []


def test_instructions_block(memory: Memory) -> None:
    assert memory.instructions_block() == ""
    memory.remember("I prefer metric units")
    memory.remember("My name is Sam")
    block = memory.instructions_block()
    assert block.splitlines()[1:] == ["- I prefer metric units", "- My name is Sam"]
    assert "remember" in block.splitlines()[0]


def test_concurrent_writers(memory: Memory) -> None:
    def writer(n: int) -> None:
        for i in range(20):
            memory.remember(f"fact {n} number {i}")

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert len(memory.facts()) == 80
