"""An answer HH documents as one of several shapes is parsed as the shape its keys fit."""

from __future__ import annotations

import httpx
import pytest
import respx

from hh_async import HHClient, StaticToken
from hh_async.models import MeAnyProfile, MeApplicantProfile, MeEmployerProfile, MeManagerProfile
from hh_async.shapes import fitting

FLAGS = {
    "auth_type": "employer",
    "is_admin": False,
    "is_applicant": False,
    "is_application": False,
    "is_employer": True,
    "is_employer_integration": False,
}
SHAPES = (MeAnyProfile, MeApplicantProfile, MeManagerProfile, MeEmployerProfile)


def test_each_kind_of_profile_is_read_as_its_own_shape() -> None:
    person = {"id": "7", "first_name": "Ann", "last_name": "Lee", "email": "a@b.c", "middle_name": None}
    manager = {**FLAGS, **person, "employer": {"id": "1"}, "manager": {"id": "9"}}
    applicant = {
        **FLAGS,
        **person,
        "auth_type": "applicant",
        "is_applicant": True,
        "is_employer": False,
        "counters": {"resumes_count": 1},
        "is_in_search": True,
        "linked_socials": [],
        "negotiations_url": "https://api.hh.ru/negotiations",
        "resumes_url": "https://api.hh.ru/resumes/mine",
    }
    application = {**FLAGS, "auth_type": "application", "is_application": True, "is_employer": False}
    assert fitting(SHAPES, manager) is MeManagerProfile
    assert fitting(SHAPES, applicant) is MeApplicantProfile
    assert fitting(SHAPES, application) is MeAnyProfile  # fits Any and Employer alike: the first documented
    assert fitting(SHAPES, {**FLAGS, "employer": {"id": "1"}}) is MeEmployerProfile


@pytest.mark.anyio
async def test_an_employers_me_has_its_employer_and_manager(anyio_backend: str) -> None:
    person = {"id": "7", "first_name": "Ann", "last_name": "Lee"}
    body = {**FLAGS, **person, "employer": {"id": "1", "name": "Co"}, "manager": {"id": "9"}}
    with respx.mock(base_url="https://api.hh.ru") as mock:
        mock.get("/me").mock(return_value=httpx.Response(200, json=body))
        async with HHClient(
            user_agent="Tests/1.0 (dev@example.com)",
            auth=StaticToken("t"),
            transport=httpx.AsyncHTTPTransport(),  # what respx intercepts
        ) as hh:
            me = await hh.get_current_user_info()
    assert isinstance(me, MeManagerProfile)
    assert me.employer.id == "1" and me.manager.id == "9"  # not lost in additional_properties
    assert me.to_dict() == body
