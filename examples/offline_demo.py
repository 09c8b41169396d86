"""The offline demo: hh-async against the fake HH on loopback, no network and no HH account needed.

    .venv/bin/python examples/offline_demo.py

It starts the fake server (with one request in ten failing on purpose), logs in as an application, pages
through a search, reads every vacancy of a bigger one past HH's 2000 cap, opens one vacancy, and shows
what an error looks like.
"""

from __future__ import annotations

import anyio

from hh_async import AppToken, HHClient, RetryPolicy, Throttle
from hh_async.errors import NotFoundError
from hh_async.testing import CLIENT_ID, CLIENT_SECRET, FakeHH, Faults


async def main() -> None:
    faults = Faults(rate=0.1, kinds=("503", "502_html", "drop"), seed=2)
    async with FakeHH(vacancies=20_000, faults=faults) as server:
        auth = AppToken(CLIENT_ID, CLIENT_SECRET, token_url=f"{server.url}/token")
        async with HHClient(
            user_agent="OfflineDemo/1.0 (demo@example.com)",
            auth=auth,
            base_url=server.url,
            throttle=Throttle(rate=50),
            retry=RetryPolicy(backoff_base=0.05),
        ) as hh:
            pages = hh.paginate(hh.get_vacancies, text="python", area=["1"])
            names = [f"{v.id} {v.name} ({v.published_at})" async for v in pages]
            print(f"found {pages.found} Python vacancies in Moscow; the newest:")
            print("\n".join(f"  {line}" for line in names[:5]))

            sweep = hh.search_all_vacancies(text="developer")
            ids = {v.id async for v in sweep}
            report = sweep.report
            print(
                f"'developer': HH found {report.found}, one query reaches 2000; read {len(ids)} distinct "
                f"in {report.slices_done} date slices (complete: {report.complete})"
            )
            vacancy = await hh.get_vacancy(vacancy_id=names[0].split()[0])
            print(f"opened {vacancy.id}: {vacancy.name}")
            try:
                await hh.get_vacancy(vacancy_id="1")
            except NotFoundError as exc:
                print(f"a missing vacancy raises {type(exc).__name__}: {exc}")
        print(f"{sum(faults.injected.values())} failures injected, all retried: {dict(faults.injected)}")


if __name__ == "__main__":
    anyio.run(main)
