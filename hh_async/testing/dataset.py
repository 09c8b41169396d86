"""A seeded, deterministic set of synthetic vacancies behind the fake ``GET /vacancies``.

Tests change it while a client reads it, as HH's data moves: ``archive(id)`` takes a vacancy out of every
search, ``publish(moment)`` adds one published at any moment (an older one too). The server answers from
its own thread, so changes and searches take turns under a lock, and a change drops the cached searches.
"""

from __future__ import annotations

import random
import threading
from collections import OrderedDict
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

MSK = timezone(timedelta(hours=3))
AREAS = (
    ("1", "Москва"),
    ("2", "Санкт-Петербург"),
    ("3", "Екатеринбург"),
    ("4", "Новосибирск"),
    ("88", "Казань"),
)
TITLES = (
    "Python developer",
    "Java developer",
    "Data analyst",
    "QA engineer",
    "DevOps engineer",
    "Product manager",
    "Frontend developer",
    "Sales manager",
    "Designer",
    "Support engineer",
)
EMPLOYERS = (
    ("1455", "HeadHunter"),
    ("3529", "Сбер"),
    ("78638", "Т-Банк"),
    ("1740", "Яндекс"),
    ("4181", "ВТБ"),
)


def hh_time(moment: datetime) -> str:
    """HH's date format: 2026-11-26T10:00:00+0300."""
    return moment.astimezone(MSK).strftime("%Y-%m-%dT%H:%M:%S%z")


def parse_time(text: str) -> datetime:
    """``YYYY-MM-DD`` or ISO 8601 with seconds (``+0300`` or ``+03:00``); naive times are Moscow time."""
    moment = datetime.fromisoformat(text.replace(" ", "+"))
    return moment if moment.tzinfo else moment.replace(tzinfo=MSK)


class Dataset:
    """``size`` vacancies published one after another, newest first, every ``spacing`` seconds; then
    whatever ``archive`` and ``publish`` change."""

    def __init__(
        self, size: int = 10_000, seed: int = 0, newest: datetime | None = None, spacing: float = 60.0
    ):
        rng = random.Random(seed)
        self.newest = (newest or datetime(2026, 11, 1, 12, tzinfo=MSK)).timestamp()
        self.size = size
        self._titles = [rng.randrange(len(TITLES)) for _ in range(size)]
        self._areas = [rng.randrange(len(AREAS)) for _ in range(size)]
        self._employers = [rng.randrange(len(EMPLOYERS)) for _ in range(size)]
        self._salaries = [rng.choice((None, rng.randrange(50, 400) * 1000)) for _ in range(size)]
        self._published = [self.newest - i * spacing - rng.random() * spacing / 2 for i in range(size)]
        self._cache: OrderedDict[tuple[Any, ...], list[int]] = OrderedDict()
        self._archived: set[int] = set()
        self._in_order = True  # indices are newest first until a publication dated in the past
        self._lock = threading.Lock()

    def ident(self, index: int) -> str:
        return str(100_000 + index)

    def index(self, ident: str) -> int | None:
        index = int(ident) - 100_000 if ident.isdigit() else -1
        return index if 0 <= index < self.size else None

    def search(
        self, text: str = "", areas: Sequence[str] = (), start: float | None = None, end: float | None = None
    ) -> list[int]:
        """Indices of matching vacancies, newest first (cached: paging a search must not rescan)."""
        key = (text.lower(), tuple(sorted(areas)), start, end)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
            words = text.lower().split()
            wanted = {i for i, (area, _) in enumerate(AREAS) if area in areas} if areas else None
            found = [
                i
                for i in range(self.size)
                if (wanted is None or self._areas[i] in wanted)
                and (start is None or self._published[i] >= start)
                and (end is None or self._published[i] <= end)
                and all(w in TITLES[self._titles[i]].lower() for w in words)
                and i not in self._archived
            ]
            if not self._in_order:
                found.sort(key=self._published.__getitem__, reverse=True)
            self._cache[key] = found
            if len(self._cache) > 256:
                self._cache.popitem(last=False)
            return found

    def archive(self, ident: str) -> None:
        """Take a vacancy out of every search from now on (``GET /vacancies/{id}`` still shows it,
        ``archived``), as HH does when it is closed."""
        index = self.index(ident)
        if index is None:
            raise KeyError(f"no vacancy {ident}")
        with self._lock:
            self._archived.add(index)
            self._cache.clear()

    def publish(self, moment: datetime | float, *, title: int = 0, area: int = 0) -> str:
        """A new vacancy in every search from now on, published at ``moment`` (any moment: an older
        one lands in the middle of the searches that cover it); its id."""
        published = moment.timestamp() if isinstance(moment, datetime) else float(moment)
        with self._lock:
            if self.size and published > self._published[-1]:
                self._in_order = False
            self._titles.append(title)
            self._areas.append(area)
            self._employers.append(0)
            self._salaries.append(None)
            self._published.append(published)
            self.size += 1
            self._cache.clear()
            return self.ident(self.size - 1)

    def published(self, ident: str) -> float:
        """When a vacancy was published (a POSIX timestamp)."""
        index = self.index(ident)
        if index is None:
            raise KeyError(f"no vacancy {ident}")
        return self._published[index]

    def vacancy(self, index: int, base_url: str, *, full: bool = False) -> dict[str, Any]:
        """A vacancy as HH lists it in a search (every field its spec requires), or with ``full`` as
        ``GET /vacancies/{id}`` gives it: what ``hh_async.validation`` finds complete."""
        ident = self.ident(index)
        area_id, area_name = AREAS[self._areas[index]]
        employer_id, employer_name = EMPLOYERS[self._employers[index]]
        published = hh_time(datetime.fromtimestamp(self._published[index], MSK))
        salary = self._salaries[index]
        item: dict[str, Any] = {
            "id": ident,
            "name": TITLES[self._titles[index]],
            "area": {"id": area_id, "name": area_name, "url": f"{base_url}/areas/{area_id}"},
            "employer": {
                "id": employer_id,
                "name": employer_name,
                "url": f"{base_url}/employers/{employer_id}",
                "trusted": True,
            },
            "salary": None
            if salary is None
            else {"from": salary, "to": None, "currency": "RUR", "gross": False},
            "type": {"id": "open", "name": "Открытая"},
            "published_at": published,
            "created_at": published,
            "archived": index in self._archived,
            "url": f"{base_url}/vacancies/{ident}",
            "alternate_url": f"https://hh.ru/vacancy/{ident}",
            "apply_alternate_url": f"https://hh.ru/applicant/vacancy_response?vacancyId={ident}",
            "department": None,
            "has_test": False,
            "response_letter_required": False,
            "accept_incomplete_resumes": True,
            "relations": [],
            "professional_roles": [{"id": "96", "name": "Программист, разработчик"}],
            "salary_range": None
            if salary is None
            else {
                "from": salary,
                "to": None,
                "currency": "RUR",
                "gross": False,
                "mode": {"id": "MONTH", "name": "За месяц"},
            },
        }
        if not full:
            item["snippet"] = {
                "requirement": "Опыт работы с Python.",
                "responsibility": "Разработка сервисов.",
            }
            return item
        item.update(
            description="<p>Разработка сервисов на Python.</p>",
            key_skills=[{"name": "Python"}],
            accept_handicapped=False,
            accept_kids=False,
            experience={"id": "between1And3", "name": "От 1 года до 3 лет"},
            schedule={"id": "fullDay", "name": "Полный день"},  # required by the 2024-2025 specs
            employment={"id": "full", "name": "Полная занятость"},
            initial_created_at=published,
            billing_type={"id": "standard", "name": "Стандарт"},
            allow_messages=True,
            premium=False,
            driver_license_types=[],
            approved=True,
        )
        return item
